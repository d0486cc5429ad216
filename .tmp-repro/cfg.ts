import { loadConfig } from '../functions/config/config.js';
for (const env of [{}, { VIDFLOW_JOBS_TABLE: '', VIDFLOW_MAX_INPUT_BYTES: 'lots', VIDFLOW_PRESIGN_EXPIRES_SECONDS: '7200', VIDFLOW_VIDEO_URL_MODE: 'inline', AIMLAPI_BASE_URL: 'not a url', VIDFLOW_POLL_CHECK_COST_SECONDS: '-1', VIDFLOW_JOB_TIMEOUT_SECONDS: '1.5' }]) {
  try { loadConfig(env); } catch (e) { console.log((e as Error).message); }
}
console.log(loadConfig({ VIDFLOW_JOBS_TABLE: 't', VIDFLOW_POLL_CHECK_COST_SECONDS: '2.5' }));
