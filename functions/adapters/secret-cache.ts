/**
 * The one reader of Secrets Manager: the provider key (submit, check, finalize, `vidflow retry`,
 * `vidflow doctor`), the input URL signing key and the default webhook's signing secret all go
 * through it, each value reused for a while so a busy function pays one read per period.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../domain/errors.js';

/** How long a secret read from Secrets Manager is reused before it is read again. */
export const SECRET_CACHE_MS = 5 * 60 * 1000;

export interface SecretCacheOptions {
  /** @default SECRET_CACHE_MS */
  readonly ttlMs?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

export class SecretCache {
  private readonly cache = new Map<string, { readonly value: string; readonly at: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  /** `client` is called on the first read only: a process that reads no secret builds no client. */
  constructor(
    private readonly client: () => SecretsManagerClient,
    options: SecretCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? SECRET_CACHE_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * The secret's string, trimmed; `undefined` when it is empty or has no string value.
   * @throws what Secrets Manager throws (no access, no such secret, throttled).
   */
  async value(secretId: string): Promise<string | undefined> {
    const now = this.now();
    const cached = this.cache.get(secretId);
    if (cached !== undefined && now - cached.at < this.ttlMs) return cached.value;
    const result = await this.client().send(new GetSecretValueCommand({ SecretId: secretId }));
    const value = result.SecretString?.trim() || undefined;
    // An empty secret is read again next time: the key may be filled in at any moment.
    if (value !== undefined) this.cache.set(secretId, { value, at: now });
    return value;
  }

  /**
   * A function that reads the secret through the cache, for collaborators that take a key source.
   * It throws ConfigError(`emptyMessage`) when the secret is empty, and what Secrets Manager throws.
   */
  reader(secretId: string, emptyMessage: string): () => Promise<string> {
    return async () => {
      const value = await this.value(secretId);
      if (value === undefined) throw new ConfigError(emptyMessage);
      return value;
    };
  }
}
