/**
 * One error class per failure. An error's `name` is its contract with the state machine
 * (`Retry`/`Catch` match on it, see {@link ErrorName}) and its `code` is what lands in the
 * job record's `error.code`.
 *
 * Messages never contain the provider API key.
 */

/** Where in the pipeline a failure happened; recorded as `error.stage`. */
export type Stage = 'submit' | 'generation' | 'check' | 'copy' | 'pipeline';

export const ErrorName = {
  config: 'ConfigError',
  inputRejected: 'InputRejectedError',
  providerUnavailable: 'ProviderUnavailableError',
  providerRateLimited: 'ProviderRateLimitedError',
  providerTimeout: 'ProviderTimeoutError',
  providerRejectedRequest: 'ProviderRejectedRequestError',
  providerAuth: 'ProviderAuthError',
  providerOutOfCredits: 'ProviderOutOfCreditsError',
  providerMalformedResponse: 'ProviderMalformedResponseError',
  generationNotFound: 'GenerationNotFoundError',
  submissionOutcomeUnknown: 'SubmissionOutcomeUnknownError',
  generationFailed: 'GenerationFailedError',
  deadlineExceeded: 'DeadlineExceededError',
  outputDownload: 'OutputDownloadError',
  awsServiceUnavailable: 'AwsServiceUnavailableError',
  outputRejected: 'OutputRejectedError',
  jobNotFound: 'JobNotFoundError',
  jobInvariant: 'JobInvariantError',
  staleTransition: 'StaleTransitionError',
} as const;

export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

/**
 * Errors worth retrying from the state machine, with backoff: the provider or the copy
 * source was briefly unavailable. Everything else is caught and recorded at once.
 */
export const TRANSIENT_ERROR_NAMES: readonly ErrorName[] = [
  ErrorName.providerUnavailable,
  ErrorName.providerRateLimited,
  ErrorName.providerTimeout,
  ErrorName.outputDownload,
  ErrorName.awsServiceUnavailable,
];

/** Base class: every vidflow failure has a stable `code` and says whether a retry may help. */
export abstract class VidflowError extends Error {
  abstract override readonly name: ErrorName;
  readonly code: string;
  readonly retryable: boolean;

  protected constructor(code: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retryable = retryable;
  }
}

/** Configuration is missing or invalid; raised at start-up, before any work. */
export class ConfigError extends VidflowError {
  override readonly name = ErrorName.config;
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, false, options);
  }
}

/** Codes of input rejections: bad input, refused before any paid call. Listed in the README. */
export const RejectionCode = {
  notAVideo: 'NOT_A_VIDEO',
  noVideoTrack: 'NO_VIDEO_TRACK',
  videoCodecUnsupported: 'VIDEO_CODEC_UNSUPPORTED',
  videoTrackInvalid: 'VIDEO_TRACK_INVALID',
  emptyFile: 'EMPTY_FILE',
  inputTooLarge: 'INPUT_TOO_LARGE',
  promptMissing: 'PROMPT_MISSING',
  promptTooLong: 'PROMPT_TOO_LONG',
  promptInvalid: 'PROMPT_INVALID',
  frameSizeInvalid: 'FRAME_SIZE_INVALID',
  durationInvalid: 'DURATION_INVALID',
  seedInvalid: 'SEED_INVALID',
  referencesInvalid: 'REFERENCES_INVALID',
  metadataInvalid: 'METADATA_INVALID',
  sidecarInvalid: 'SIDECAR_INVALID',
  presetInvalid: 'PRESET_INVALID',
  manifestInvalid: 'MANIFEST_INVALID',
  sourceMissing: 'SOURCE_MISSING',
  keyInvalid: 'KEY_INVALID',
  providerRejected: 'PROVIDER_REJECTED',
  /** The drop names a model the catalog does not have. */
  modelUnknown: 'MODEL_UNKNOWN',
  /** The deployment does not allow the drop's model (`allowedModels`). */
  modelNotAllowed: 'MODEL_NOT_ALLOWED',
  /** The drop gives a field its model does not take. */
  modelFieldUnknown: 'MODEL_FIELD_UNKNOWN',
  /** A field's value is outside its model's published rules (or a required one is missing). */
  modelFieldInvalid: 'MODEL_FIELD_INVALID',
} as const;

export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

/** The input cannot be generated from: the job ends `REJECTED` and nothing is paid. */
export class InputRejectedError extends VidflowError {
  override readonly name = ErrorName.inputRejected;
  /** The model and field at fault, for the model catalog's rejections (`MODEL_*`). */
  readonly model: string | undefined;
  readonly field: string | undefined;
  constructor(
    code: RejectionCode,
    message: string,
    options?: { cause?: unknown; model?: string; field?: string },
  ) {
    super(code, message, false, options);
    this.model = options?.model;
    this.field = options?.field;
  }
}

/** 5xx, connection reset or refused: the provider is briefly unavailable. */
export class ProviderUnavailableError extends VidflowError {
  override readonly name = ErrorName.providerUnavailable;
  readonly httpStatus: number | undefined;
  constructor(message: string, httpStatus?: number, options?: { cause?: unknown }) {
    super('PROVIDER_UNAVAILABLE', message, true, options);
    this.httpStatus = httpStatus;
  }
}

/** 429: rate limited. `retryAfterSeconds` comes from the `Retry-After` header when present. */
export class ProviderRateLimitedError extends VidflowError {
  override readonly name = ErrorName.providerRateLimited;
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, retryAfterSeconds?: number, options?: { cause?: unknown }) {
    super('PROVIDER_RATE_LIMITED', message, true, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The provider did not answer in time (a read; an unanswered create is {@link SubmissionOutcomeUnknownError}). */
export class ProviderTimeoutError extends VidflowError {
  override readonly name = ErrorName.providerTimeout;
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROVIDER_TIMEOUT', message, true, options);
  }
}

/** 400/422: the provider refused the request as invalid. Not retried; its message is kept. */
export class ProviderRejectedRequestError extends VidflowError {
  override readonly name = ErrorName.providerRejectedRequest;
  readonly httpStatus: number;
  constructor(message: string, httpStatus: number, options?: { cause?: unknown }) {
    super('PROVIDER_REJECTED', message, false, options);
    this.httpStatus = httpStatus;
  }
}

/** 401: the API key is missing or wrong. Not retried. */
export class ProviderAuthError extends VidflowError {
  override readonly name = ErrorName.providerAuth;
  readonly httpStatus: number;
  constructor(message: string, httpStatus: number, options?: { cause?: unknown }) {
    super('PROVIDER_AUTH_FAILED', message, false, options);
    this.httpStatus = httpStatus;
  }
}

/**
 * 403 (documented: "You've run out of credits"; 402 too, if ever seen): the provider refused the
 * work before creating anything. A job is not failed for it: it waits in `WAITING` for
 * `PROVIDER_CREDITS` and new submissions pause until the provider accepts again.
 */
export class ProviderOutOfCreditsError extends VidflowError {
  override readonly name = ErrorName.providerOutOfCredits;
  readonly httpStatus: number;
  constructor(message: string, httpStatus = 403, options?: { cause?: unknown }) {
    super('PROVIDER_OUT_OF_CREDITS', message, false, options);
    this.httpStatus = httpStatus;
  }
}

/** The provider answered with a body that matches none of the documented shapes. */
export class ProviderMalformedResponseError extends VidflowError {
  override readonly name = ErrorName.providerMalformedResponse;
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROVIDER_MALFORMED_RESPONSE', message, false, options);
  }
}

/** 404 on poll: the provider does not know this generation id. */
export class GenerationNotFoundError extends VidflowError {
  override readonly name = ErrorName.generationNotFound;
  constructor(message: string, options?: { cause?: unknown }) {
    super('GENERATION_NOT_FOUND', message, false, options);
  }
}

/**
 * A create request may have reached the provider but its answer was lost (timeout after
 * sending, reset mid-response). The provider has no idempotency key, so it is never resent:
 * the job fails with this code, saying a generation may have been charged.
 */
export class SubmissionOutcomeUnknownError extends VidflowError {
  static readonly code = 'SUBMISSION_OUTCOME_UNKNOWN';
  override readonly name = ErrorName.submissionOutcomeUnknown;
  constructor(message: string, options?: { cause?: unknown }) {
    super(SubmissionOutcomeUnknownError.code, message, false, options);
  }
}

/** The provider reported the generation ended in `error`. */
export class GenerationFailedError extends VidflowError {
  override readonly name = ErrorName.generationFailed;
  constructor(message: string, options?: { cause?: unknown }) {
    super('GENERATION_FAILED', message, false, options);
  }
}

/** The job's overall deadline passed before the generation finished. */
export class DeadlineExceededError extends VidflowError {
  override readonly name = ErrorName.deadlineExceeded;
  constructor(message: string, options?: { cause?: unknown }) {
    super('DEADLINE_EXCEEDED', message, false, options);
  }
}

/** Copying the output failed in a way a later attempt may fix (5xx, reset, stall). */
export class OutputDownloadError extends VidflowError {
  override readonly name = ErrorName.outputDownload;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, true, options);
  }
}

/**
 * An AWS service the pipeline's own state lives in (S3, DynamoDB, Secrets Manager) failed in a
 * way its SDK classes as transient (a reset or timed-out connection, 5xx, throttling) after the
 * SDK's own retries, or on a streaming upload the SDK cannot retry. The state machine retries the
 * task: an infrastructure hiccup never abandons a generation already paid for.
 */
export class AwsServiceUnavailableError extends VidflowError {
  override readonly name = ErrorName.awsServiceUnavailable;
  constructor(message: string, options?: { cause?: unknown }) {
    super('AWS_SERVICE_UNAVAILABLE', message, true, options);
  }
}

/** The output cannot be accepted: unsafe URL, expired, not a video, too large, truncated. */
export class OutputRejectedError extends VidflowError {
  override readonly name = ErrorName.outputRejected;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, false, options);
  }
}

/** No job record has this id. */
export class JobNotFoundError extends VidflowError {
  override readonly name = ErrorName.jobNotFound;
  constructor(jobId: string) {
    super('JOB_NOT_FOUND', `no job ${jobId}`, false);
  }
}

/**
 * A job record breaks one of vidflow's own invariants, such as a job in the polling loop
 * without the generation id its submission recorded. A defect of vidflow (or a hand-edited
 * record), not of the provider or the input: not retried, and recorded under its own code so
 * no one reads it as the provider's fault.
 */
export class JobInvariantError extends VidflowError {
  static readonly code = 'JOB_INVARIANT_BROKEN';
  override readonly name = ErrorName.jobInvariant;
  constructor(message: string, options?: { cause?: unknown }) {
    super(JobInvariantError.code, message, false, options);
  }
}

/** A status change lost a race: the record is no longer in a status the change may leave. */
export class StaleTransitionError extends VidflowError {
  override readonly name = ErrorName.staleTransition;
  constructor(message: string, options?: { cause?: unknown }) {
    super('STALE_TRANSITION', message, false, options);
  }
}
