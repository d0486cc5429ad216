/** The console's JSON API, as the page sees it. */

export interface JobError {
  readonly code: string;
  readonly message: string;
  readonly stage: string;
}

export interface PublicJob {
  readonly jobId: string;
  readonly status: string;
  readonly source: { readonly bucket: string; readonly key: string; readonly size: number };
  readonly trigger: { readonly kind: string; readonly key: string };
  readonly request?: {
    readonly prompt: string;
    readonly frameSize: string;
    readonly duration: number;
    readonly seed?: number;
  };
  readonly generationId?: string;
  readonly providerStatus?: string;
  readonly pollCount: number;
  readonly output?: {
    readonly bucket: string;
    readonly key: string;
    readonly size: number;
    readonly width?: number;
    readonly height?: number;
    readonly durationSeconds?: number;
  };
  readonly creditsUsed?: number;
  readonly error?: JobError;
  readonly attempt: number;
  readonly attempts?: readonly {
    readonly attempt: number;
    readonly status: string;
    readonly creditsUsed?: number;
  }[];
  readonly createdAt: string;
  readonly submittedAt?: string;
  readonly completedAt?: string;
  readonly updatedAt: string;
  readonly statusChangedAt: string;
  readonly waitingFor?: string;
  /** Set by the pipeline's completion estimate, when it has one. */
  readonly expectedCompletionAt?: string;
  readonly expectedCompletionP90At?: string;
}

export interface ParamRow {
  readonly name: string;
  readonly value: string;
  readonly origin: string;
  readonly from?: string;
  readonly note?: string;
}

export interface TimelineStep {
  readonly at?: string;
  readonly title: string;
  readonly detail?: string;
  readonly tone: 'ok' | 'wait' | 'error' | 'info';
  readonly attempt: number;
  readonly source: string;
}

export interface Target {
  readonly kind: 'local' | 'stack';
  readonly description: string;
  readonly inputBucket: string;
  readonly outputBucket: string;
  readonly rules: {
    readonly frameSizes: readonly string[];
    readonly maxPromptCharacters: number;
    readonly maxSeed: number;
    readonly maxInputBytes: number;
  };
}

export interface Overview {
  readonly since: string;
  readonly until: string;
  readonly jobs: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly creditsUsed: number;
  readonly turnaroundSeconds: {
    readonly completed: number;
    readonly p50: number | null;
    readonly p95: number | null;
  };
  readonly creditsByDay: readonly { readonly day: string; readonly credits: number }[];
  readonly turnaroundHistogram: { readonly bucketSeconds: number; readonly counts: readonly number[] };
}

/** A failure the API explained; `message` is written for people. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Calls the API; rejects with an ApiError carrying the server's message. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(
      0,
      'the console server is not answering: is `vidflow dev` (or `vidflow console`) still running?',
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, `unexpected answer from the console (HTTP ${response.status})`);
  }
  if (!response.ok) {
    const error = (body as { error?: { message?: string; code?: string; field?: string } }).error;
    throw new ApiError(
      response.status,
      error?.message ?? `HTTP ${response.status}`,
      error?.code,
      error?.field,
    );
  }
  return body as T;
}

export const STATUSES = [
  'AWAITING_PROMPT',
  'WAITING',
  'SUBMITTED',
  'GENERATING',
  'COPYING',
  'COMPLETED',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'CANCELLED',
] as const;

export const IN_FLIGHT = new Set(['AWAITING_PROMPT', 'WAITING', 'SUBMITTED', 'GENERATING', 'COPYING']);
