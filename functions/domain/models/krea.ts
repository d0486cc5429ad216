/**
 * `krea/krea-wan-14b/video-to-video`:
 * docs/api-references/video-models/Krea/krea-wan-14b-video-to-video.json (aimlapi/api-docs).
 * The published schema sets no length limit on the prompt and no range on the seed.
 */
import { booleanField, type ModelSpec, numberField, stringField } from './model-spec.js';

export const KREA_WAN_14B_V2V: ModelSpec = {
  id: 'krea/krea-wan-14b/video-to-video',
  openApiFile: 'docs/api-references/video-models/Krea/krea-wan-14b-video-to-video.json',
  summary: 'Remakes the clip from a prompt; `strength` sets how far from the original.',
  video: { name: 'video_url', shape: 'url' },
  fields: [
    stringField('prompt', {
      required: true,
      description: 'The scene, subject or action to generate.',
    }),
    numberField('strength', {
      integer: false,
      minimum: 0,
      maximum: 1,
      default: 0.85,
      description: 'Denoising strength: 0 preserves the original, 1 remakes it completely.',
    }),
    booleanField('enable_prompt_expansion', { default: true, description: 'Expand the prompt.' }),
    numberField('seed', { integer: true, description: 'Random if absent.' }),
  ],
  outputs: ['video'],
  // Not published: assumptions until history says otherwise.
  estimateCredits: () => 30,
  typicalProcessingSeconds: 120,
};
