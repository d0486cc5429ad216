/**
 * Input URLs the provider's upstream can fetch: CloudFront signed URLs (canned policy) in front of
 * the input bucket. Unlike an S3 URL presigned for GET, a CloudFront signed URL answers HEAD and
 * GET alike (upstream sends both), over HTTPS on a domain name, in a few hundred characters. The
 * local runtime serves the same URLs from `local/input-cdn.ts`.
 */
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import type { ObjectRef } from '../domain/ports.js';

export interface CloudFrontInputUrlsOptions {
  /** The distribution's base URL, e.g. `https://d111111abcdef8.cloudfront.net` (a path prefix is kept). */
  readonly baseUrl: string;
  /** The CloudFront public key id the key group trusts. */
  readonly keyPairId: string;
  /** The PEM private key, or a function fetching it (called once, then cached). */
  readonly privateKey: string | (() => Promise<string>);
}

/** Signs input-object URLs for CloudFront (or the local stand-in). */
export class CloudFrontInputUrls {
  private privateKey: Promise<string> | undefined;

  constructor(private readonly options: CloudFrontInputUrlsOptions) {}

  /**
   * A URL for `ref`'s key valid for `expiresSeconds`. The object's current version is served
   * (CloudFront caches by path; a re-upload of the key is a new job anyway).
   *
   * @throws whatever fetching the private key throws (e.g. Secrets Manager errors).
   */
  async sign(ref: ObjectRef, expiresSeconds: number, now: Date = new Date()): Promise<string> {
    const { privateKey: source } = this.options;
    this.privateKey ??= typeof source === 'string' ? Promise.resolve(source) : source();
    const privateKey = await this.privateKey.catch((error: unknown) => {
      this.privateKey = undefined;
      throw error;
    });
    const path = ref.key.split('/').map(encodeURIComponent).join('/');
    return getSignedUrl({
      url: `${this.options.baseUrl.replace(/\/+$/, '')}/${path}`,
      keyPairId: this.options.keyPairId,
      privateKey,
      dateLessThan: new Date(now.getTime() + expiresSeconds * 1000).toISOString(),
    });
  }
}
