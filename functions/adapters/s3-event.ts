/**
 * S3 event notification keys are form-URL-encoded: `+` is a space and everything else is
 * percent-encoded (`my clip+1.mp4` arrives as `my+clip%2B1.mp4`).
 */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}
