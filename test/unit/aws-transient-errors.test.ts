/**
 * Infrastructure hiccups in a task (S3, DynamoDB) cross the state machine as
 * AwsServiceUnavailableError, which it retries, instead of failing a paid job as PIPELINE_ERROR.
 * Real S3 clients against loopback servers: the errors are the ones the SDK really throws
 * (this file has no aws-sdk-client-mock, which would patch every S3Client).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { toStepFunctionsError } from '../../functions/adapters/step-functions-error.js';
import { TRANSIENT_ERROR_NAMES } from '../../functions/domain/errors.js';

describe('toStepFunctionsError of an AWS error the SDK classes as transient', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise(
      (resolveClose) => server?.close(() => resolveClose(undefined)) ?? resolveClose(undefined),
    );
    server = undefined;
  });

  /** A real S3 client streaming a PutObject to a loopback server that answers with `answer`. */
  const putThrough = async (answer: (response: ServerResponse) => void): Promise<unknown> => {
    server = createServer((request, response) => {
      request.resume();
      answer(response);
    });
    await new Promise<void>((resolveListen) => server?.listen(0, '127.0.0.1', resolveListen));
    const { port } = server.address() as AddressInfo;
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: 'vidflow-output',
          Key: 'out.mp4',
          Body: Readable.from([Buffer.alloc(1024)]),
          ContentLength: 1024,
        }),
      );
      return undefined;
    } catch (error) {
      return error;
    } finally {
      s3.destroy();
    }
  };
  const s3Error = (status: number, code: string) => (response: ServerResponse) => {
    response.writeHead(status, { 'content-type': 'application/xml' });
    response.end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
  };

  it.each([
    ['a connection reset during a streamed upload', (response: ServerResponse) => response.socket?.destroy()],
    ['503 SlowDown', s3Error(503, 'SlowDown')],
    ['500 InternalError', s3Error(500, 'InternalError')],
  ])('crosses %s as AwsServiceUnavailableError, which the state machine retries', async (_, answer) => {
    const thrown = await putThrough(answer);
    expect(thrown).toBeInstanceOf(Error);

    const crossing = toStepFunctionsError(thrown);

    expect(crossing).toMatchObject({ name: 'AwsServiceUnavailableError' });
    expect((crossing as Error).message).toMatch(/^AWS_SERVICE_UNAVAILABLE: \S/);
    expect(TRANSIENT_ERROR_NAMES).toContain('AwsServiceUnavailableError');
  });

  it("crosses DynamoDB throttling after the SDK's retries as AwsServiceUnavailableError", () => {
    const throttled = new ProvisionedThroughputExceededException({
      message: 'The level of configured provisioned throughput for the table was exceeded.',
      $metadata: { httpStatusCode: 400 },
    });

    expect(toStepFunctionsError(throttled)).toMatchObject({
      name: 'AwsServiceUnavailableError',
      message:
        'AWS_SERVICE_UNAVAILABLE: ProvisionedThroughputExceededException: The level of configured provisioned throughput for the table was exceeded.',
    });
  });

  it('passes a refusal (403 AccessDenied) through untouched: a retry would not help', async () => {
    const thrown = await putThrough(s3Error(403, 'AccessDenied'));

    expect(thrown).toMatchObject({ name: 'AccessDenied' });
    expect(toStepFunctionsError(thrown)).toBe(thrown);
  });
});
