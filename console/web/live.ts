/** Server-sent job changes: one EventSource per page, closed when the page changes. */
import type { PublicJob } from './api.js';
import { showBanner } from './dom.js';

let current: EventSource | undefined;
let currentView = 0;

/**
 * Starts a new view (page): closes the stream of the previous one. A view's renders are async,
 * so a slow earlier one may finish after a later one started: its `listen` is then ignored.
 */
export function beginView(): number {
  stopListening();
  currentView += 1;
  return currentView;
}

export function isCurrentView(view: number): boolean {
  return view === currentView;
}

/** Listen for job changes (and for one job's progress with `jobId`) while `view` is current. */
export function listen(view: number, onJob: (job: PublicJob) => void, jobId?: string): void {
  if (!isCurrentView(view)) return;
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
