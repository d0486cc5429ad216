/**
 * The generation provider as the domain sees it (docs/conformance.md, provider rules), independent of HTTP.
 * The adapter is `functions/adapters/provider-client.ts`.
 */

/** What vidflow asks the provider to make. Field names are the provider's wire names. */
export type CreateGenerationInput = AlephGenerationInput | CatalogGenerationInput;

/**
 * The body of a catalog model other than `runway/gen4_aleph` (functions/domain/models/), already
 * checked against its published rules: sent exactly as it is.
 */
export interface CatalogGenerationInput {
  readonly model: string;
  readonly catalogBody: Readonly<Record<string, unknown>>;
}

/**
 * The `runway/gen4_aleph` create body as the client sends it. The provider emulator describes
 * the same body on its own (local/emulator/models/index.ts) on purpose: it models the provider
 * independently of the client.
 */
export interface AlephGenerationInput {
  readonly model: string;
  readonly prompt: string;
  /** An HTTPS URL of the input video, or a `data:` URI holding it. */
  readonly video_url: string;
  readonly frame_size?: string;
  readonly duration?: number;
  readonly seed?: number;
  readonly references?: readonly { readonly type: 'image'; readonly url: string }[];
}

/**
 * The schema's four statuses, plus `pending`: any status the client does not know (other model
 * pages of the same API show `waiting` and `active`). A pending generation is still in progress,
 * bounded by the job's deadline: a paid job is never failed for a word the client has not seen.
 */
export type ProviderGenerationStatus = 'queued' | 'generating' | 'completed' | 'error' | 'pending';

/** A generation as reported by the provider, normalized over every documented shape. */
export interface Generation {
  readonly id: string;
  readonly status: ProviderGenerationStatus;
  /** The status word as the provider wrote it (recorded as `providerStatus`), e.g. `waiting`. */
  readonly reportedStatus?: string;
  /** Output URL, present when `status` is `completed` (from `video.url`, `video[0]` or `video[0].url`). */
  readonly videoUrl?: string;
  /** From `error` when `status` is `error`. */
  readonly error?: { readonly name: string; readonly message: string };
  /** From `meta.usage.credits_used`. */
  readonly creditsUsed?: number;
}

export interface ProviderClient {
  /**
   * POST the generation. Throws `ProviderRejectedRequestError`, `ProviderAuthError`,
   * `ProviderOutOfCreditsError`, `ProviderRateLimitedError`/`ProviderUnavailableError`
   * (only when the request surely was not processed, after the client's own bounded
   * retries), `SubmissionOutcomeUnknownError` (sent, answer lost: never resent), or
   * `ProviderMalformedResponseError`.
   */
  createGeneration(input: CreateGenerationInput): Promise<Generation>;

  /**
   * GET the generation's status. Throws `GenerationNotFoundError`, `ProviderAuthError`,
   * `ProviderRateLimitedError`, `ProviderUnavailableError`, `ProviderTimeoutError`,
   * `ProviderMalformedResponseError`.
   */
  getGeneration(generationId: string): Promise<Generation>;
}
