/**
 * The submit use case's collaborators as fakes, for the tests of everything built on it
 * (submit, sweep, retry).
 */
import { NO_ADMISSION_LIMITS } from '../../functions/domain/admission.js';
import { silentLogger } from '../../functions/domain/ports.js';
import type { SubmissionDeps, SubmissionSettings } from '../../functions/domain/submission.js';
import {
  FakeAdmissionStore,
  FakeClock,
  FakeEvents,
  FakeExecutions,
  FakeJobStore,
  FakeObjectStore,
  FakeProvider,
} from './fakes.js';
import { INPUT_BUCKET, POLL_SETTINGS, T0 } from './jobs.js';

export const SUBMIT_SETTINGS: SubmissionSettings = {
  inputBucket: INPUT_BUCKET,
  maxInputBytes: 16 * 1024 * 1024,
  videoUrlMode: 'presigned',
  presignExpiresSeconds: 3600,
  jobTimeoutSeconds: 1800,
  poll: POLL_SETTINGS,
  presetLookbackDays: 30,
  admission: NO_ADMISSION_LIMITS,
};

export function createSubmitHarness(settings: Partial<SubmissionSettings> = {}) {
  const clock = new FakeClock(T0);
  const jobs = new FakeJobStore(clock);
  const objects = new FakeObjectStore(clock);
  const provider = new FakeProvider();
  const executions = new FakeExecutions();
  const events = new FakeEvents();
  const admission = new FakeAdmissionStore();
  const deps: SubmissionDeps = {
    objects,
    jobs,
    admission,
    provider,
    executions,
    events,
    clock,
    logger: silentLogger,
    settings: { ...SUBMIT_SETTINGS, ...settings },
  };
  return { deps, clock, jobs, objects, provider, executions, events, admission };
}
