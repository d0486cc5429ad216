/**
 * The emulator's per-model route: `runway/gen4_aleph` bodies go to ../validation.ts as always;
 * every other catalog model is checked against its own schema (./schemas.ts) and turned into what
 * the renderer needs: the input clip, a text burned into the frames that shows what the model was
 * given, a frame size and a length.
 */
import { type ValidationIssue, type ValidationResult, validateCreateGeneration } from '../validation.js';
import { isCatalogModelId, MODEL_SCHEMAS } from './schemas.js';

/**
 * A valid body, in the renderer's terms. Its fields mirror the client's `AlephGenerationInput`
 * (functions/domain/provider.ts) on purpose: the emulator reads the provider's wire fields with
 * its own types, never the client's, so the two sides cannot drift together.
 */
export interface EmulatedCreate {
  readonly model: string;
  /** What to burn into the frames: the prompt, or what stands in for it. */
  readonly prompt: string;
  /** The clip to render from. */
  readonly video_url: string;
  readonly frame_size?: string;
  readonly duration?: number;
  readonly seed?: number;
  readonly references?: readonly { readonly type: string; readonly url: string }[];
}

export type ModelValidationResult =
  | { readonly ok: true; readonly value: EmulatedCreate }
  | { readonly ok: false; readonly errors: readonly ValidationIssue[] };

/** What a flux `aspect_ratio` renders at, in hd (`fhd` is 1.5 times larger). */
const ASPECT_FRAME_SIZES: Readonly<Record<string, readonly [number, number]>> = {
  auto: [1280, 720],
  '21:9': [1680, 720],
  '2:1': [1440, 720],
  '16:9': [1280, 720],
  '4:3': [960, 720],
  '1:1': [720, 720],
  '3:4': [720, 960],
  '9:16': [720, 1280],
};

/** Validates a create body for any catalog model. */
export function validateModelCreate(body: unknown): ModelValidationResult {
  const model = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
  if (!isCatalogModelId(model)) return validateCreateGeneration(body) satisfies ValidationResult;
  const parsed = MODEL_SCHEMAS[model].safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`,
      })),
    };
  }
  const value = parsed.data;
  switch (value.model) {
    case 'runway/act_two':
      return {
        ok: true,
        value: {
          model: value.model,
          // The performance is the reference clip; the character is named on every frame.
          prompt: `act_two: ${value.character.type} character ${describeUrl(value.character.url)}, expression ${value.expression_intensity ?? 3}`,
          video_url: value.reference.url,
          frame_size: value.frame_size ?? '1280:720',
          ...(value.seed === undefined ? {} : { seed: value.seed }),
        },
      };
    case 'krea/krea-wan-14b/video-to-video':
      return {
        ok: true,
        value: {
          model: value.model,
          prompt: `${value.prompt} (strength ${value.strength ?? 0.85})`,
          video_url: value.video_url,
          ...(value.seed === undefined ? {} : { seed: value.seed }),
        },
      };
    case 'klingai/video-o1-video-to-video-edit': {
      const images = value.image_list?.length ?? 0;
      return {
        ok: true,
        value: {
          model: value.model,
          prompt: images > 0 ? `${value.prompt} (+${images} reference images)` : value.prompt,
          video_url: value.video_url,
        },
      };
    }
    default: {
      // FLUX.3 continues the clip: the render says so, at the requested shape and length.
      const [width, height] = ASPECT_FRAME_SIZES[value.aspect_ratio ?? 'auto'] ?? [1280, 720];
      const scale = value.resolution === 'fhd' ? 1.5 : 1;
      return {
        ok: true,
        value: {
          model: value.model,
          prompt: `continued: ${value.prompt}`,
          video_url: value.video_url,
          frame_size: `${Math.round(width * scale)}:${Math.round(height * scale)}`,
          duration: value.duration ?? 5,
        },
      };
    }
  }
}

/** The host and last path segment of a URL, or the media type of a data: URI. */
function describeUrl(url: string): string {
  if (url.startsWith('data:')) return url.slice(0, url.indexOf(',')).replace(';base64', '');
  try {
    const parsed = new URL(url);
    return `${parsed.host}/${parsed.pathname.split('/').pop() ?? ''}`;
  } catch {
    return url;
  }
}
