/**
 * What the provider's upstream (Runway, behind the AI/ML API's `runway/gen4_aleph`) accepts as
 * inputs, from its published "API Input Parameters" page (docs.dev.runwayml.com/assets/inputs):
 * shared by the client side (params validation, the input URL) and the local emulator, which
 * enforces the same rules.
 */

/** The longest URL upstream fetches, in characters. */
export const MAX_INPUT_URL_CHARS = 2048;
/**
 * The largest video data URI upstream takes, counted as encoded (the whole `data:...` string):
 * "16MB", read as 16,000,000 to stay on the safe side of either reading of MB.
 */
export const MAX_VIDEO_DATA_URI_CHARS = 16_000_000;
/** The largest video upstream fetches by URL: "32MB", read as 32,000,000 bytes. */
export const MAX_VIDEO_URL_BYTES = 32_000_000;
/** The largest image data URI (a reference) upstream takes, as encoded: "5MB". */
export const MAX_IMAGE_DATA_URI_CHARS = 5_000_000;
/** Reference images upstream takes per generation. */
export const MAX_REFERENCES = 1;
/** Image media types upstream accepts for references. */
export const REFERENCE_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;

/** The length of the data URI holding `bytes` bytes of `contentType`, base64-encoded. */
export function dataUriLength(contentType: string, bytes: number): number {
  return `data:${contentType};base64,`.length + 4 * Math.ceil(bytes / 3);
}
