/**
 * Runway models.
 *
 * `runway/gen4_aleph`: docs/api-references/video-models/runway/gen4_aleph.json (aimlapi/api-docs).
 * Its rules are the historical ones of `../params.ts` (validated there, unchanged); the fields
 * below describe them for `vidflow models` and the emulator.
 *
 * `runway/act_two`: docs/api-references/video-models/runway/act_two.json (aimlapi/api-docs).
 * No prompt: a `character` (image or video) performs the drop's video, sent as `reference`.
 */
import {
  booleanField,
  enumField,
  type ModelSpec,
  mediaObjectField,
  numberField,
  stringField,
} from './model-spec.js';

/**
 * Runway's frame sizes (both models publish the same list). The provider emulator keeps its own
 * copy (local/emulator/validation.ts) on purpose: it models the provider independently of the
 * client, so a wrong list here is caught by the emulator refusing what the client let through.
 */
export const RUNWAY_FRAME_SIZES = [
  '1280:720',
  '720:1280',
  '1104:832',
  '832:1104',
  '960:960',
  '1584:672',
  '848:480',
  '640:480',
] as const;

const SEED_MAX = 4_294_967_295;

export const GEN4_ALEPH: ModelSpec = {
  id: 'runway/gen4_aleph',
  openApiFile: 'docs/api-references/video-models/runway/gen4_aleph.json',
  summary: 'Edits the clip (restyle, add or remove objects, relight) or generates its next shot.',
  video: { name: 'video_url', shape: 'url' },
  fields: [
    stringField('prompt', {
      required: true,
      maxLength: 1000,
      description: 'What to change in the video.',
    }),
    enumField('frame_size', RUNWAY_FRAME_SIZES, {
      default: '1280:720',
      description: 'Width and height of the output (upstream follows the input since 2026-02-03).',
    }),
    numberField('duration', { integer: true, minimum: 5, maximum: 5, default: 5, description: 'Seconds.' }),
    numberField('seed', { integer: true, minimum: 0, maximum: SEED_MAX, description: 'Random if absent.' }),
    {
      ...mediaObjectField('references', ['image'], { description: 'Style or content reference images.' }),
      type: 'array',
      rule: 'a list of HTTPS image URLs (or { "type": "image", "url" } objects)',
    },
  ],
  outputs: ['video'],
  // The budget's configured estimate (VIDFLOW_CREDITS_PER_JOB_ESTIMATE, default 40) applies.
  estimateCredits: () => 40,
  // The provider's own example: about 3 min 30 s for a 5-second 1280x720 result.
  typicalProcessingSeconds: 210,
};

export const ACT_TWO: ModelSpec = {
  id: 'runway/act_two',
  openApiFile: 'docs/api-references/video-models/runway/act_two.json',
  summary: 'Animates a character (image or video) with the performance in the drop’s video.',
  video: { name: 'reference', shape: 'video-object' },
  fields: [
    mediaObjectField('character', ['video', 'image'], {
      required: true,
      description: 'The character to control: a video or an image with a visible face.',
    }),
    enumField('frame_size', RUNWAY_FRAME_SIZES, {
      default: '1280:720',
      description: 'The width and height of the video.',
    }),
    booleanField('body_control', {
      description: 'Apply non-facial movements and gestures too, not only facial expressions.',
    }),
    numberField('expression_intensity', {
      integer: true,
      minimum: 1,
      maximum: 5,
      default: 3,
      description: 'A larger value increases the intensity of the character’s expression.',
    }),
    numberField('seed', { integer: true, minimum: 0, maximum: SEED_MAX, description: 'Random if absent.' }),
  ],
  outputs: ['video'],
  // Not published by the provider: an assumption, like aleph's default estimate.
  estimateCredits: () => 40,
  typicalProcessingSeconds: 180,
};
