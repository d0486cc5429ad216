/**
 * Validation of a create-generation body, exactly the provider's published rules (one deliberate
 * deviation: `http://` URLs on loopback hosts are accepted, since local buckets live there).
 * Written independently of the client's rules (functions/domain/params.ts, models/) on purpose,
 * so the emulator can catch the client sending what the provider would refuse: lists such as
 * the frame sizes stand here a second time by design.
 */

import { z } from 'zod';
import { MAX_REFERENCES } from '../../functions/domain/provider-limits.js';

export const MODEL = 'runway/gen4_aleph';

/**
 * Runway's frame sizes, as published. Deliberately written again rather than imported from the
 * client's `RUNWAY_FRAME_SIZES` (functions/domain/models/runway.ts): the emulator models the
 * provider independently of the client, so a wrong list on either side shows up as a refusal.
 */
export const FRAME_SIZES = [
  '1280:720',
  '720:1280',
  '1104:832',
  '832:1104',
  '960:960',
  '1584:672',
  '848:480',
  '640:480',
] as const;

export type FrameSize = (typeof FRAME_SIZES)[number];

export const DEFAULT_FRAME_SIZE: FrameSize = '1280:720';
export const ALLOWED_DURATIONS = [5] as const;
export const DEFAULT_DURATION = 5;
export const MAX_PROMPT_CHARS = 1000;
export const MAX_SEED = 4294967295;
/** Runway's own limit on input URLs. */
export const MAX_URL_CHARS = 2048;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost');
}

/** A `data:` URI with a payload, or an HTTPS URL (or HTTP on a loopback host) of at most 2,048 characters. */
function checkMediaUri(value: string, field: string, ctx: z.RefinementCtx): void {
  if (value.startsWith('data:')) {
    if (!/^data:[^,]*,/.test(value))
      ctx.addIssue({ code: 'custom', message: `${field} is not a valid data: URI` });
    return;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `${field} must be an HTTPS URL or a data: URI` });
    return;
  }
  const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  if (!allowed) ctx.addIssue({ code: 'custom', message: `${field} must be an HTTPS URL or a data: URI` });
  else if (value.length > MAX_URL_CHARS) {
    ctx.addIssue({ code: 'custom', message: `${field} must be at most ${MAX_URL_CHARS} characters` });
  }
}

function requiredString(field: string) {
  return z.string({
    error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`),
  });
}

const referenceSchema = z.object(
  {
    type: z.literal('image', { error: 'references[].type must be "image"' }),
    url: requiredString('references[].url').superRefine((url, ctx) =>
      checkMediaUri(url, 'references[].url', ctx),
    ),
  },
  { error: 'references[] items must be objects { type: "image", url }' },
);

const createGenerationSchema = z.object(
  {
    model: z.literal(MODEL, {
      error: (issue) => (issue.input === undefined ? 'model is required' : `model must be "${MODEL}"`),
    }),
    prompt: requiredString('prompt')
      .min(1, 'prompt must not be empty')
      .refine(
        // Upstream counts UTF-16 code units.
        (prompt) => prompt.length <= MAX_PROMPT_CHARS,
        `prompt must be at most ${MAX_PROMPT_CHARS} characters`,
      ),
    video_url: requiredString('video_url').superRefine((url, ctx) => checkMediaUri(url, 'video_url', ctx)),
    frame_size: z
      .enum(FRAME_SIZES, { error: `frame_size must be one of ${FRAME_SIZES.join(', ')}` })
      .optional(),
    duration: z
      .literal(ALLOWED_DURATIONS, { error: `duration must be ${ALLOWED_DURATIONS.join(' or ')}` })
      .optional(),
    seed: z
      .int({ error: `seed must be an integer from 0 to ${MAX_SEED}` })
      .min(0, `seed must be an integer from 0 to ${MAX_SEED}`)
      .max(MAX_SEED, `seed must be an integer from 0 to ${MAX_SEED}`)
      .optional(),
    references: z
      .array(referenceSchema, { error: 'references must be an array' })
      .max(MAX_REFERENCES, `references may hold at most ${MAX_REFERENCES} image`)
      .optional(),
  },
  { error: 'the body must be a JSON object' },
);

/** A valid create-generation body, defaults not yet applied. */
export type CreateGenerationBody = z.infer<typeof createGenerationSchema>;

/** One reason a body is invalid: the field path (`references[0].url`, empty for the body) and why. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly value: CreateGenerationBody }
  | { readonly ok: false; readonly errors: readonly ValidationIssue[] };

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

/** Validates a parsed JSON body of `POST /v2/video/generations`. Unknown fields are ignored. */
export function validateCreateGeneration(body: unknown): ValidationResult {
  const result = createGenerationSchema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  };
}
