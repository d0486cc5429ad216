/**
 * Job error codes in words a person understands (shared by the console's server and page; no
 * Node imports). The record's own message follows, since it names the specifics.
 */
const WORDS: Readonly<Record<string, string>> = {
  NOT_A_VIDEO: 'The file is not a video the provider can read.',
  EMPTY_FILE: 'The file is empty.',
  INPUT_TOO_LARGE: 'The video is larger than the pipeline accepts.',
  PROMPT_MISSING: 'No prompt was given: add one as metadata, in a sidecar or in a folder preset.',
  PROMPT_TOO_LONG: 'The prompt is longer than the provider accepts (1000 characters).',
  PROMPT_INVALID: 'The prompt contains characters the provider refuses.',
  FRAME_SIZE_INVALID: 'The frame size is not one the model supports.',
  DURATION_INVALID: 'The model makes 5-second videos only.',
  SEED_INVALID: 'The seed must be a whole number from 0 to 4294967295.',
  REFERENCES_INVALID: 'A reference image URL is not valid.',
  METADATA_INVALID: "The upload's metadata could not be read.",
  SIDECAR_INVALID: 'The sidecar JSON next to the video is not valid.',
  PRESET_INVALID: 'The folder preset (_defaults.json) is not valid.',
  MANIFEST_INVALID: 'The manifest is not valid.',
  SOURCE_MISSING: 'The video named by the manifest does not exist.',
  KEY_INVALID: 'The key cannot be used for the output.',
  PROVIDER_REJECTED: 'The provider refused the request.',
  PROVIDER_UNAVAILABLE: 'The provider could not be reached, even after retries.',
  PROVIDER_RATE_LIMITED: 'The provider kept answering "too many requests".',
  PROVIDER_TIMEOUT: 'The provider did not answer in time.',
  PROVIDER_AUTH_FAILED: 'The provider refused the API key.',
  PROVIDER_OUT_OF_CREDITS: 'The provider account has run out of credits.',
  PROVIDER_MALFORMED_RESPONSE: 'The provider answered with something unexpected.',
  GENERATION_NOT_FOUND: 'The provider no longer knows the generation.',
  GENERATION_FAILED: 'The provider could not make the video.',
  DEADLINE_EXCEEDED: 'The generation took longer than the job timeout.',
  JOB_INVARIANT_BROKEN: 'The job record is inconsistent (a defect of vidflow, not of the provider).',
  CANCELLED: 'Someone cancelled the job.',
};

/** `GENERATION_FAILED` -> "The provider could not make the video. (<message>)". */
export function explainError(error: { readonly code: string; readonly message: string }): string {
  const words = WORDS[error.code];
  return words === undefined ? error.message : `${words} ${error.message}`;
}
