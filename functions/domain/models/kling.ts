/**
 * `klingai/video-o1-video-to-video-edit`:
 * docs/api-references/video-models/Kling-AI/video-o1-video-to-video-edit.json (aimlapi/api-docs).
 */
import * as z from 'zod/mini';
import {
  booleanField,
  caseInsensitiveEnumField,
  customField,
  type ModelSpec,
  mediaUriListField,
  schemas,
  stringField,
} from './model-spec.js';

const element = z.strictObject({
  reference_image_urls: z.array(schemas.mediaUri()).check(z.minLength(1), z.maxLength(4)),
  frontal_image_url: schemas.mediaUri(),
});

export const KLING_O1_V2V_EDIT: ModelSpec = {
  id: 'klingai/video-o1-video-to-video-edit',
  openApiFile: 'docs/api-references/video-models/Kling-AI/video-o1-video-to-video-edit.json',
  summary: 'Edits the clip from a prompt, optionally with reference images and elements.',
  video: { name: 'video_url', shape: 'url' },
  fields: [
    stringField('prompt', {
      required: true,
      maxLength: 2500,
      description: 'The scene, subject or action to generate.',
    }),
    mediaUriListField('image_list', { minItems: 1, maxItems: 7, description: 'Reference images.' }),
    customField('elements', {
      type: 'array',
      maxItems: 4,
      description: 'Characters or objects to include.',
      rule: `a list of at most 4 objects { "reference_image_urls": 1 to 4 URLs, "frontal_image_url": URL }, each URL ${schemas.MEDIA_URI_RULE}`,
      schema: z.array(element).check(z.maxLength(4)),
    }),
    booleanField('keep_audio', { default: false, description: 'Keep the original audio.' }),
    caseInsensitiveEnumField('provider', ['auto', 'kling', 'klingai', 'fal'], {
      default: 'auto',
      description: 'Provider routing override (published as a string; its description lists these values).',
    }),
  ],
  outputs: ['video'],
  // Not published: assumptions until history says otherwise.
  estimateCredits: () => 60,
  typicalProcessingSeconds: 240,
};
