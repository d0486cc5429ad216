/**
 * The emulator's own request schemas of the catalog models other than `runway/gen4_aleph`
 * (whose rules live in ../validation.ts), written from the provider's published OpenAPI files in
 * `aimlapi/api-docs`, independently of the client's (functions/domain/models/), so that a client
 * bug is caught here rather than mirrored:
 * - runway/act_two: docs/api-references/video-models/runway/act_two.json
 * - krea/krea-wan-14b/video-to-video: docs/api-references/video-models/Krea/krea-wan-14b-video-to-video.json
 * - klingai/video-o1-video-to-video-edit: docs/api-references/video-models/Kling-AI/video-o1-video-to-video-edit.json
 * - blackforestlabs/flux-3-video-v2v: docs/api-references/video-models/Black-Forest-Labs/flux-3-video-v2v.json
 * - blackforestlabs/flux-3-video-draft-v2v: docs/api-references/video-models/Black-Forest-Labs/flux-3-video-draft-v2v.json
 * Unknown fields are refused (strict objects), as the published schemas list every field.
 */
import { z } from 'zod';
import { FRAME_SIZES, MAX_URL_CHARS } from '../validation.js';

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\]|.*\.localhost)$/;

/** HTTPS (or HTTP on loopback, where local buckets live) of at most 2,048 characters, or a data: URI. */
const uri = z.string().refine((value) => {
  if (value.startsWith('data:')) return /^data:[^,]*,/.test(value);
  try {
    const url = new URL(value);
    const fetchable = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname));
    return fetchable && value.length <= MAX_URL_CHARS;
  } catch {
    return false;
  }
}, 'must be an HTTPS URL or a data: URI');

const media = (types: readonly [string, ...string[]]) => z.strictObject({ type: z.enum(types), url: uri });

const fluxFields = {
  prompt: z.string().min(1),
  video_url: uri,
  aspect_ratio: z.enum(['auto', '21:9', '2:1', '16:9', '4:3', '1:1', '3:4', '9:16']).optional(),
  duration: z.int().min(5).max(20).optional(),
  generate_audio: z.boolean().optional(),
  safety_tolerance: z.int().min(0).max(4).optional(),
};

export const MODEL_SCHEMAS = {
  'runway/act_two': z.strictObject({
    model: z.literal('runway/act_two'),
    character: media(['video', 'image']),
    reference: media(['video']),
    frame_size: z.enum(FRAME_SIZES).optional(),
    body_control: z.boolean().optional(),
    expression_intensity: z.int().min(1).max(5).optional(),
    seed: z.int().min(0).max(4294967295).optional(),
  }),
  'krea/krea-wan-14b/video-to-video': z.strictObject({
    model: z.literal('krea/krea-wan-14b/video-to-video'),
    prompt: z.string(),
    video_url: uri,
    strength: z.number().min(0).max(1).optional(),
    enable_prompt_expansion: z.boolean().optional(),
    seed: z.int().optional(),
  }),
  'klingai/video-o1-video-to-video-edit': z.strictObject({
    model: z.literal('klingai/video-o1-video-to-video-edit'),
    prompt: z.string().max(2500),
    video_url: uri,
    image_list: z.array(uri).min(1).max(7).optional(),
    elements: z
      .array(z.strictObject({ reference_image_urls: z.array(uri).min(1).max(4), frontal_image_url: uri }))
      .max(4)
      .optional(),
    keep_audio: z.boolean().optional(),
    provider: z
      .string()
      .refine((value) => ['auto', 'kling', 'klingai', 'fal'].includes(value.toLowerCase()))
      .optional(),
  }),
  'blackforestlabs/flux-3-video-v2v': z.strictObject({
    model: z.literal('blackforestlabs/flux-3-video-v2v'),
    ...fluxFields,
    resolution: z.enum(['hd', 'fhd']).optional(),
  }),
  'blackforestlabs/flux-3-video-draft-v2v': z.strictObject({
    model: z.literal('blackforestlabs/flux-3-video-draft-v2v'),
    ...fluxFields,
    resolution: z.enum(['hd']).optional(),
  }),
} as const;

export type CatalogModelId = keyof typeof MODEL_SCHEMAS;

export function isCatalogModelId(value: unknown): value is CatalogModelId {
  return typeof value === 'string' && Object.hasOwn(MODEL_SCHEMAS, value);
}
