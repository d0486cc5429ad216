/**
 * The console's checks of an upload, before anything is sent: the pipeline's own rules (the key
 * must trigger a job, the parameters go through the same metadata parsing and validation as
 * submit's, the size limit), so a drop the console accepts is one the pipeline would accept.
 */
import { classifyDrop } from '../../functions/domain/drops.js';
import { InputRejectedError, RejectionCode } from '../../functions/domain/errors.js';
import { outputKeysFor } from '../../functions/domain/job.js';
import { parseMetadataParams, validateRequest } from '../../functions/domain/params.js';

/** S3's limit on a key, in UTF-8 bytes. */
const MAX_S3_KEY_BYTES = 1024;
/** The output key adds `/<jobId>.json` (26 bytes) in place of the extension. */
const JOB_ID_SAMPLE = 'aaaaaaaaaaaaaaaaaaaa';

export interface UploadRequest {
  readonly key: string;
  readonly prompt: string;
  readonly frameSize?: string;
  readonly seed?: string;
  readonly sizeBytes: number;
}

export interface UploadProblem {
  readonly field: 'key' | 'prompt' | 'frameSize' | 'seed' | 'file';
  readonly code: string;
  readonly message: string;
}

/** The first rule the upload breaks, or undefined when the pipeline would take it. */
export function checkUpload(upload: UploadRequest, maxInputBytes: number): UploadProblem | undefined {
  const key = upload.key;
  if (key.trim() === '') return { field: 'key', code: RejectionCode.keyInvalid, message: 'the key is empty' };
  if (key.startsWith('/')) {
    return {
      field: 'key',
      code: RejectionCode.keyInvalid,
      message: 'the key starts with "/": S3 would store it under an empty folder name',
    };
  }
  const drop = classifyDrop(key);
  if (drop.kind !== 'video') {
    return {
      field: 'key',
      code: RejectionCode.keyInvalid,
      message: `"${key}" would not start a job: a video key ends in .mp4, .mov, .m4v, .webm or .mkv (and is not under jobs/)`,
    };
  }
  const outputs = outputKeysFor(key, JOB_ID_SAMPLE);
  if (Buffer.byteLength(outputs.record) > MAX_S3_KEY_BYTES) {
    return {
      field: 'key',
      code: RejectionCode.keyInvalid,
      message: 'the key is too long for its output keys to fit in S3',
    };
  }
  if (upload.sizeBytes <= 0)
    return { field: 'file', code: RejectionCode.emptyFile, message: 'the file is empty' };
  if (upload.sizeBytes > maxInputBytes) {
    return {
      field: 'file',
      code: RejectionCode.inputTooLarge,
      message: `the video is ${upload.sizeBytes} bytes; the limit is ${maxInputBytes}`,
    };
  }
  try {
    validateRequest(
      parseMetadataParams({
        prompt: encodeURIComponent(upload.prompt),
        ...(upload.frameSize ? { 'frame-size': upload.frameSize } : {}),
        ...(upload.seed ? { seed: upload.seed } : {}),
      }),
    );
  } catch (error) {
    if (error instanceof InputRejectedError) {
      return { field: fieldOf(error.code), code: error.code, message: error.message };
    }
    throw error;
  }
  return undefined;
}

function fieldOf(code: string): UploadProblem['field'] {
  if (code === RejectionCode.frameSizeInvalid) return 'frameSize';
  if (code === RejectionCode.seedInvalid) return 'seed';
  return 'prompt';
}
