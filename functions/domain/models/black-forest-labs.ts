/**
 * Black Forest Labs FLUX.3 video-to-video: both models continue the drop's clip from its final
 * frames.
 *
 * `blackforestlabs/flux-3-video-v2v`:
 * docs/api-references/video-models/Black-Forest-Labs/flux-3-video-v2v.json (aimlapi/api-docs).
 * `blackforestlabs/flux-3-video-draft-v2v` (hd only):
 * docs/api-references/video-models/Black-Forest-Labs/flux-3-video-draft-v2v.json.
 */
import { booleanField, enumField, type ModelSpec, numberField, stringField } from './model-spec.js';

const ASPECT_RATIOS = ['auto', '21:9', '2:1', '16:9', '4:3', '1:1', '3:4', '9:16'] as const;

function fluxV2v(options: {
  readonly id: string;
  readonly file: string;
  readonly resolutions: readonly [string, ...string[]];
  readonly creditsPerSecond: number;
  readonly summary: string;
}): ModelSpec {
  return {
    id: options.id,
    openApiFile: options.file,
    summary: options.summary,
    video: { name: 'video_url', shape: 'url' },
    fields: [
      stringField('prompt', { required: true, minLength: 1, description: 'The video to generate.' }),
      enumField('aspect_ratio', ASPECT_RATIOS, {
        default: 'auto',
        description: 'Aspect ratio of the output.',
      }),
      numberField('duration', {
        integer: true,
        minimum: 5,
        maximum: 20,
        default: 5,
        description: 'Length in whole seconds.',
      }),
      booleanField('generate_audio', { default: true, description: 'Generate a synchronized audio track.' }),
      numberField('safety_tolerance', {
        integer: true,
        minimum: 0,
        maximum: 4,
        default: 2,
        description: 'Moderation strictness: 0 strictest, 4 most permissive.',
      }),
      enumField('resolution', options.resolutions, { default: 'hd', description: 'Output resolution.' }),
    ],
    outputs: ['video'],
    // Not published: an assumption, proportional to the requested length.
    estimateCredits: (fields) =>
      options.creditsPerSecond * (typeof fields.duration === 'number' ? fields.duration : 5),
    typicalProcessingSeconds: 150,
  };
}

export const FLUX_3_VIDEO_V2V = fluxV2v({
  id: 'blackforestlabs/flux-3-video-v2v',
  file: 'docs/api-references/video-models/Black-Forest-Labs/flux-3-video-v2v.json',
  resolutions: ['hd', 'fhd'],
  creditsPerSecond: 10,
  summary: 'Continues the clip for 5 to 20 seconds, with audio.',
});

export const FLUX_3_VIDEO_DRAFT_V2V = fluxV2v({
  id: 'blackforestlabs/flux-3-video-draft-v2v',
  file: 'docs/api-references/video-models/Black-Forest-Labs/flux-3-video-draft-v2v.json',
  resolutions: ['hd'],
  creditsPerSecond: 4,
  summary: 'A cheaper, hd-only draft of flux-3-video-v2v.',
});
