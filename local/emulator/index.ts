/** The provider emulator's public API; see `README.md` in this folder. */
export { type FaultRule, FaultSyntaxError, parseFaults } from './faults.js';
export {
  EmulatorConfigError,
  EmulatorEnvName,
  type EmulatorOptions,
  LOCAL_INPUT_REFUSED_RETRY_SECONDS,
  type VideoShape,
} from './options.js';
export { type RequestLogEntry, type RunningEmulator, startEmulator } from './server.js';
export { FRAME_SIZES, MODEL } from './validation.js';
