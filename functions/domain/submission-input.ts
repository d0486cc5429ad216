/**
 * The submission protocol's "build the input URL" step (submission.ts): how the job's video
 * reaches the provider, and the request body that carries it.
 */
import { videoContentType } from './drops.js';
import { type GenerationRequest, isCatalogRequest, type SourceObject } from './job.js';
import { catalogRequestBody } from './models/catalog-request.js';
import type { ObjectStore } from './ports.js';
import type { CreateGenerationInput } from './provider.js';
import { dataUriLength, MAX_INPUT_URL_CHARS, MAX_VIDEO_DATA_URI_CHARS } from './provider-limits.js';

/** How the input reaches the provider (see `buildInputUrl`). */
export type VideoUrlMode = 'auto' | 'presigned' | 'data-uri';

/** The longest input URL the provider fetches (Runway: 2,048 characters). */
export const MAX_VIDEO_URL_CHARS = MAX_INPUT_URL_CHARS;

export interface InputUrlSettings {
  readonly videoUrlMode: VideoUrlMode;
  readonly presignExpiresSeconds: number;
}

/**
 * The input as the provider's upstream can fetch it. Upstream fetches a URL with HEAD, then GET,
 * and an S3 URL presigned for GET answers HEAD with 403 (the method is signed): so in `auto`
 * (the default) the input travels as a data URI whenever the encoded URI fits upstream's limit
 * (16 MB as encoded: inputs up to about 11.9 MB), and as a URL only beyond that. `data-uri` always
 * inlines (refused by upstream past its limit); `presigned` always sends a URL.
 * @throws what the object store throws reading or presigning the object.
 */
export async function buildInputUrl(
  objects: ObjectStore,
  settings: InputUrlSettings,
  source: SourceObject,
): Promise<string> {
  const ref = {
    bucket: source.bucket,
    key: source.key,
    ...(source.versionId === undefined ? {} : { versionId: source.versionId }),
  };
  const contentType = videoContentType(source);
  const fitsDataUri = dataUriLength(contentType, source.size) <= MAX_VIDEO_DATA_URI_CHARS;
  const dataUri = async () => {
    const bytes = await objects.readAll(ref);
    return `data:${contentType};base64,${Buffer.from(bytes).toString('base64')}`;
  };
  const mode = settings.videoUrlMode;
  if (mode === 'data-uri' || (mode === 'auto' && fitsDataUri)) return dataUri();
  const url = await objects.presignGet(ref, Math.min(settings.presignExpiresSeconds, 3600), contentType);
  // A long key (percent-encoded non-ASCII triples in length) or a long session token can make
  // the presigned URL too long for the provider: send the bytes instead when they fit.
  if (url.length > MAX_VIDEO_URL_CHARS && fitsDataUri) return dataUri();
  return url;
}

/** The provider's request for `request`, with the input at `videoUrl`. */
export function toProviderInput(request: GenerationRequest, videoUrl: string): CreateGenerationInput {
  if (isCatalogRequest(request)) {
    return { model: request.model, catalogBody: catalogRequestBody(request, videoUrl) };
  }
  return {
    model: request.model,
    prompt: request.prompt,
    video_url: videoUrl,
    frame_size: request.frameSize,
    duration: request.duration,
    ...(request.seed === undefined ? {} : { seed: request.seed }),
    ...(request.references === undefined
      ? {}
      : { references: request.references.map((url) => ({ type: 'image' as const, url })) }),
  };
}
