/**
 * The Powertools Tracer in the composition root: every AWS SDK client passes through it once,
 * and it instruments them only where tracing is on (a Lambda with tracing enabled).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAwsClients } from '../../functions/adapters/aws-clients.js';
import { createDependencies } from '../../functions/adapters/dependencies.js';
import { loadConfig } from '../../functions/config/config.js';
import { EnvName } from '../../functions/config/env-names.js';

const ENV = { [EnvName.jobsTable]: 'vidflow-jobs', AWS_REGION: 'us-east-1' };

/** The names of the middleware on an SDK client's stack. */
function middlewareOf(client: { readonly middlewareStack: { identify(): string[] } }): string[] {
  return client.middlewareStack.identify();
}

describe('the AWS SDK clients', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('pass through the capture once each, the DynamoDB client under the document client', () => {
    const captured: string[] = [];
    const clients = createAwsClients(loadConfig(ENV), (client) => {
      captured.push(client.constructor.name);
      return client;
    });

    for (let i = 0; i < 2; i += 1) {
      void clients.s3;
      void clients.dynamo;
      void clients.sfn;
      void clients.eventBridge;
      void clients.secrets;
    }

    expect(captured).toStrictEqual([
      'S3Client',
      'DynamoDBClient',
      'SFNClient',
      'EventBridgeClient',
      'SecretsManagerClient',
    ]);
  });

  it('are instrumented by the Tracer in a Lambda with tracing on', () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs24.x');
    const { observability, clients } = createDependencies(loadConfig(ENV));

    expect(observability.tracer.isTracingEnabled()).toBe(true);
    expect(middlewareOf(clients.s3).filter((name) => name.startsWith('XRaySDKInstrumentation'))).toHaveLength(
      1,
    );
    expect(
      middlewareOf(clients.dynamo).filter((name) => name.startsWith('XRaySDKInstrumentation')),
    ).toHaveLength(1);
  });

  it('are left alone when the environment turns tracing off (the local runtime)', () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs24.x');
    const config = loadConfig({ ...ENV, [EnvName.tracingEnabled]: 'false' });
    const { observability, clients } = createDependencies(config);

    expect(observability.tracer.isTracingEnabled()).toBe(false);
    expect(
      middlewareOf(clients.s3).filter((name) => name.startsWith('XRaySDKInstrumentation')),
    ).toStrictEqual([]);
  });
});
