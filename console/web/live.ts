/** Server-sent job changes: one EventSource per page, closed when the page changes. */
import type { PublicJob } from './api.js';
import { showBanner } from './dom.js';

let current: EventSource | undefined;

/** Listen for job changes (and for one job's progress with `jobId`); replaces any earlier stream. */
export function listen(onJob: (job: PublicJob) => void, jobId?: string): void {
  stopListening();
  const source = new EventSource(
    jobId === undefined ? '/api/stream' : `/api/stream?job=${encodeURIComponent(jobId)}`,
  );
  source.addEventListener('job', (event) => {
    showBanner(undefined);
    onJob(JSON.parse((event as MessageEvent<string>).data) as PublicJob);
  });
  source.addEventListener('trouble', (event) => {
    showBanner(`live updates paused: ${JSON.parse((event as MessageEvent<string>).data) as string}`);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CONNECTING)
      showBanner('live updates lost: reconnecting to the console…', 'info');
  };
  source.onopen = () => showBanner(undefined);
  current = source;
}

export function stopListening(): void {
  current?.close();
  current = undefined;
}
