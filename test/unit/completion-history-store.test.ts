import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoCompletionHistoryStore } from '../../functions/adapters/completion-history-store.js';

const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
);

beforeEach(() => ddb.reset());

describe('DynamoCompletionHistoryStore', () => {
  it('reads the observations with the write counter as the history version', async () => {
    ddb.on(GetCommand).resolves({
      Item: { observations: { '4': [190, 200, 1_800_000_050], '9': [240, 0, 1_800_000_060] }, version: 12 },
    });
    const store = new DynamoCompletionHistoryStore(client, 'jobs', { now: () => 0 });

    await expect(store.read('848:480')).resolves.toStrictEqual({
      observations: [
        { afterSeconds: 190, bySeconds: 200, atSeconds: 1_800_000_050 },
        { afterSeconds: 240, atSeconds: 1_800_000_060 },
      ],
      version: 'jobs/848:480/12',
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.Key).toStrictEqual({ jobId: '#stats#848:480' });
  });

  it('writes one slot, a running generation as [after, 0, at], and counts the write', async () => {
    ddb.on(UpdateCommand).resolves({});
    const store = new DynamoCompletionHistoryStore(client, 'jobs', { now: () => 1_800_000_000_000 });

    await store.record('klingai/video-o1@848:480', 7, { afterSeconds: 240.5, atSeconds: 1_800_000_000 });

    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.Key).toStrictEqual({ jobId: '#stats#klingai/video-o1@848:480' });
    expect(input?.UpdateExpression).toBe(
      'SET #observations.#slot = :value, #updatedAt = :updatedAt ADD #version :one',
    );
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':value': [240.5, 0, 1_800_000_000],
      ':one': 1,
    });
    expect(input?.ExpressionAttributeNames).toMatchObject({ '#slot': '7' });
  });

  it('writes when a check last saw the generation queued as a fourth number, and reads it back', async () => {
    ddb.on(UpdateCommand).resolves({});
    ddb.on(GetCommand).resolves({
      Item: { observations: { '3': [200, 410, 1_800_000_100, 190.5], '5': [320, 0, 1_800_000_120, 320] } },
    });
    const store = new DynamoCompletionHistoryStore(client, 'jobs', { now: () => 1_800_000_000_000 });

    await store.record('1280:720', 3, {
      afterSeconds: 200,
      bySeconds: 410,
      atSeconds: 1_800_000_100,
      queuedSeconds: 190.5,
    });

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':value': [200, 410, 1_800_000_100, 190.5],
    });
    await expect(store.read('1280:720')).resolves.toMatchObject({
      observations: [
        { afterSeconds: 200, bySeconds: 410, atSeconds: 1_800_000_100, queuedSeconds: 190.5 },
        { afterSeconds: 320, atSeconds: 1_800_000_120, queuedSeconds: 320 },
      ],
    });
  });
});
