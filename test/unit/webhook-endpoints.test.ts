/**
 * The delivery rules of webhook endpoints (functions/domain/webhook-endpoints.ts): filters, the
 * Standard Webhooks retry schedule with jitter and time scale, what an answer means, the 5-day
 * rule, signing secrets during a rotation, and the response snippet without secrets.
 */
import { describe, expect, it } from 'vitest';
import {
  endpointWants,
  failedTooLong,
  judgeAnswer,
  nextRetryDelayMs,
  parseRetryAfterMs,
  redactSnippet,
  rotateSecrets,
  signingSecrets,
  validateEndpointInput,
  WEBHOOK_MAX_ATTEMPTS,
  type WebhookEndpoint,
  WebhookEndpointError,
} from '../../functions/domain/webhook-endpoints.js';

const NOW = new Date('2025-05-01T12:00:00.000Z');

const endpoint = (overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  id: 'ep_a',
  url: 'https://hooks.example.com/a',
  description: '',
  events: [],
  filters: {},
  enabled: true,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
  ...overrides,
});

const event = (detailType: string, key: string, model: string) => ({
  detailType,
  detail: { source: { key }, request: { model } },
});

describe('endpointWants', () => {
  it.each([
    [{}, event('Job Failed', 'a.mp4', 'm'), true],
    [{ events: ['Job Completed'] }, event('Job Failed', 'a.mp4', 'm'), false],
    [{ events: ['Job Completed', 'Job Failed'] }, event('Job Failed', 'a.mp4', 'm'), true],
    [{ filters: { sourcePrefix: 'trips/' } }, event('Job Failed', 'trips/a.mp4', 'm'), true],
    [{ filters: { sourcePrefix: 'trips/' } }, event('Job Failed', 'other/trips/a.mp4', 'm'), false],
    [{ filters: { model: 'runway/gen4_aleph' } }, event('Job Failed', 'a.mp4', 'runway/other'), false],
    [{ filters: { sourcePrefix: 'a', model: 'm' } }, event('Job Failed', 'a.mp4', 'm'), true],
    [{ enabled: false }, event('Job Failed', 'a.mp4', 'm'), false],
  ])('%j wants %j: %s', (overrides, candidate, wanted) => {
    expect(endpointWants(endpoint(overrides), candidate)).toBe(wanted);
  });
});

describe('nextRetryDelayMs', () => {
  it('follows the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then nothing', () => {
    const delays = Array.from({ length: WEBHOOK_MAX_ATTEMPTS }, (_, index) =>
      nextRetryDelayMs(index + 1, { random: 0, timeScale: 1 }),
    );
    expect(delays).toStrictEqual([
      5_000,
      300_000,
      1_800_000,
      7_200_000,
      18_000_000,
      36_000_000,
      36_000_000,
      undefined,
    ]);
  });

  it('adds up to 10% of jitter, scales with the time scale, and waits at least Retry-After (capped at 10 h)', () => {
    expect(nextRetryDelayMs(1, { random: 0.5, timeScale: 1 })).toBe(5_250);
    expect(nextRetryDelayMs(2, { random: 0, timeScale: 0.001 })).toBe(300);
    expect(nextRetryDelayMs(1, { random: 0, timeScale: 1, retryAfterMs: 60_000 })).toBe(60_000);
    expect(nextRetryDelayMs(3, { random: 0, timeScale: 1, retryAfterMs: 60_000 })).toBe(1_800_000);
    expect(nextRetryDelayMs(1, { random: 0, timeScale: 1, retryAfterMs: 86_400_000 })).toBe(36_000_000);
  });
});

describe('judgeAnswer', () => {
  it.each([
    [200, null, { kind: 'delivered' }],
    [204, null, { kind: 'delivered' }],
    [410, null, { kind: 'gone' }],
    [301, null, { kind: 'retry' }],
    [500, '120', { kind: 'retry' }],
    [503, '120', { kind: 'retry', retryAfterMs: 120_000 }],
    [429, 'Thu, 01 May 2025 12:10:00 GMT', { kind: 'retry', retryAfterMs: 600_000 }],
    [429, 'soon', { kind: 'retry' }],
    [undefined, null, { kind: 'retry' }],
  ])('reads %s with Retry-After %s as %j', (status, retryAfter, verdict) => {
    expect(judgeAnswer(status, retryAfter, NOW)).toStrictEqual(verdict);
  });

  it('reads a past HTTP date as no wait', () => {
    expect(parseRetryAfterMs('Thu, 01 May 2025 11:00:00 GMT', NOW)).toBe(0);
  });
});

describe('failedTooLong', () => {
  it('disables after 5 days of failures, scaled by the time scale', () => {
    expect(failedTooLong(undefined, NOW, 1)).toBe(false);
    expect(failedTooLong('2025-04-26T12:00:01.000Z', NOW, 1)).toBe(false);
    expect(failedTooLong('2025-04-26T12:00:00.000Z', NOW, 1)).toBe(true);
    expect(failedTooLong('2025-05-01T11:59:17.000Z', NOW, 1 / 10_000)).toBe(false);
    expect(failedTooLong('2025-05-01T11:59:16.000Z', NOW, 1 / 10_000)).toBe(true);
  });
});

describe('secrets', () => {
  it('signs with the previous secret too until its overlap ends', () => {
    const rotated = rotateSecrets({ current: 'whsec_old' }, 'whsec_new', NOW, 3_600_000);
    expect(rotated).toStrictEqual({
      current: 'whsec_new',
      previous: 'whsec_old',
      previousUntil: '2025-05-01T13:00:00.000Z',
    });
    expect(signingSecrets(rotated, NOW)).toStrictEqual(['whsec_new', 'whsec_old']);
    expect(signingSecrets(rotated, new Date('2025-05-01T13:00:00.000Z'))).toStrictEqual(['whsec_new']);
    expect(rotateSecrets(rotated, 'whsec_newer', NOW, 0)).toStrictEqual({ current: 'whsec_newer' });
  });

  it('masks the endpoint secret, its bare key and anything shaped like a secret in the response snippet', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(redactSnippet(`expected ${secret}`, [secret])).toBe('expected [secret]');
    expect(redactSnippet('key MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', [secret])).toBe('key [secret]');
    expect(redactSnippet('other whsec_QUJDREVGR0g=', [secret])).toBe('other whsec_[secret]');
    expect(redactSnippet('x'.repeat(1000), [secret])).toHaveLength(256);
  });
});

describe('validateEndpointInput', () => {
  it('refuses a URL that is not http(s) and an unknown event type', () => {
    expect(() => validateEndpointInput({ url: 'ftp://example.com' })).toThrow(WebhookEndpointError);
    expect(() => validateEndpointInput({ url: 'not a url' })).toThrow(WebhookEndpointError);
    expect(() => validateEndpointInput({ events: ['Job Finished'] })).toThrow(
      /unknown event type "Job Finished"/,
    );
    expect(() => validateEndpointInput({ url: 'https://example.com', events: ['Job Failed'] })).not.toThrow();
  });
});

describe('managing endpoints of a deployed stack', () => {
  it('refuses an http endpoint where https is required, and keeps nothing', async () => {
    const { addEndpoint } = await import('../../functions/adapters/webhook-admin.js');
    const saved: string[] = [];
    const store = {
      list: async () => [],
      get: async () => undefined,
      put: async (value: WebhookEndpoint) => {
        saved.push(value.id);
      },
      remove: async () => {},
    };
    const deps = {
      endpoints: store,
      secrets: {
        get: async () => undefined,
        put: async (id: string) => void saved.push(`secret ${id}`),
        remove: async () => {},
      },
      log: {} as never,
      clock: { now: () => NOW },
      requireHttps: true,
      enqueueReplay: async () => {},
    };
    await expect(addEndpoint(deps, { url: 'http://hooks.example.com/a' })).rejects.toThrow(
      WebhookEndpointError,
    );
    expect(saved).toStrictEqual([]);
    const { endpoint: added } = await addEndpoint(deps, { url: 'https://hooks.example.com/a' });
    expect(saved).toStrictEqual([`secret ${added.id}`, added.id]);
  });
});
