/** One job: both videos under one control, its parameters and their sources, its path, actions. */
import { ApiError, api, IN_FLIGHT, type ParamRow, type PublicJob, type TimelineStep } from './api.js';
import { formatBytes, formatSeconds, h, shortTime, showBanner } from './dom.js';
import { explainError } from './error-words.js';
import { etaElement } from './eta.js';
import { isCurrentView, listen } from './live.js';
import { linkVideos } from './player.js';

const RETRYABLE = new Set(['FAILED', 'TIMED_OUT', 'CANCELLED']);
const ORIGIN_WORDS: Readonly<Record<string, string>> = {
  manifest: 'manifest',
  metadata: 'upload metadata',
  sidecar: 'sidecar JSON',
  preset: 'folder preset',
  default: "provider's default",
};

export async function renderJob(main: HTMLElement, view: number, jobId: string): Promise<void> {
  let shown: PublicJob;
  let details: { job: PublicJob; params: ParamRow[]; paramProblems: string[] };
  try {
    details = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
  } catch (error) {
    const unknown = error instanceof ApiError && error.status === 404;
    main.replaceChildren(
      h('h1', {}, unknown ? 'Job not found' : 'The job cannot be shown'),
      h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)),
      ...(unknown
        ? [
            h(
              'p',
              { class: 'muted', id: 'job-pending' },
              'A job just uploaded appears here as soon as the pipeline records it.',
            ),
          ]
        : []),
      h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')),
    );
    // A fresh upload's record is written a moment later: show the job when it is.
    if (unknown) {
      listen(
        view,
        (job) => {
          if (job.jobId === jobId && isCurrentView(view)) void renderJob(main, view, jobId);
        },
        jobId,
      );
    }
    return;
  }
  shown = details.job;
  const facts = h('dl', { class: 'facts', id: 'facts' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const missing = h('ul', { class: 'missing', id: 'timeline-missing' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' });
  const status = h('span', { id: 'job-status', class: 'status', 'aria-live': 'polite' });
  const videos = h('section', { class: 'media', 'aria-label': 'Input and output' });
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')),
    h('h1', {}, 'Job ', h('span', { class: 'mono' }, jobId), ' ', status),
    videos,
    actions,
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        { 'aria-labelledby': 'facts-title' },
        h('h2', { id: 'facts-title' }, 'Details'),
        facts,
        paramsTable(details.params, details.paramProblems),
      ),
      h(
        'section',
        { 'aria-labelledby': 'path-title' },
        h('h2', { id: 'path-title' }, 'Path'),
        timeline,
        h('h3', {}, 'Not recorded'),
        missing,
      ),
    ),
  );
  let videosFor = '';
  const refresh = async (job: PublicJob) => {
    shown = job;
    status.textContent = job.status;
    status.className = `status s-${job.status.toLowerCase()}`;
    renderFacts(facts, job);
    renderActions(actions, job, refresh);
    const mediaKey = `${job.status}:${job.output?.key ?? ''}`;
    if (mediaKey !== videosFor) {
      videosFor = mediaKey;
      renderVideos(videos, job);
    }
    const path = await api<{ steps: TimelineStep[]; missing: string[] }>(`/api/jobs/${jobId}/timeline`).catch(
      (error: unknown) => ({ steps: [], missing: [String(error)] }),
    );
    timeline.replaceChildren(...path.steps.map(stepOf));
    missing.replaceChildren(
      ...(path.missing.length === 0
        ? [h('li', {}, 'nothing: every step above was recorded')]
        : path.missing.map((line) => h('li', {}, line))),
    );
  };
  await refresh(shown);
  listen(
    view,
    (job) => {
      if (job.jobId === jobId && job.updatedAt !== shown.updatedAt) void refresh(job);
    },
    jobId,
  );
}

function renderVideos(section: HTMLElement, job: PublicJob): void {
  const figure = (kind: 'input' | 'output', label: string) => {
    const video = h('video', {
      id: `video-${kind}`,
      preload: 'auto',
      muted: true,
      playsinline: true,
      src: `/media/${job.jobId}/${kind}`,
      'aria-label': `${label} video`,
    });
    video.muted = true;
    const note = h('p', { class: 'video-note', id: `note-${kind}` });
    video.addEventListener('error', () => {
      void api(`/media/${job.jobId}/${kind}`, { method: 'HEAD' }).catch((error: unknown) => {
        note.textContent =
          error instanceof ApiError && error.status === 404
            ? `The ${kind} video no longer exists (it was deleted from S3).`
            : `The ${kind} video cannot be played here.`;
      });
      note.textContent = `The ${kind} video cannot be loaded.`;
    });
    return { element: h('figure', {}, h('figcaption', {}, label), video, note), video };
  };
  const input = figure('input', 'Input');
  if (job.output === undefined) {
    section.replaceChildren(
      h(
        'div',
        { class: 'videos single' },
        input.element,
        h(
          'figure',
          { class: 'placeholder' },
          h('figcaption', {}, 'Output'),
          h(
            'p',
            {},
            IN_FLIGHT.has(job.status)
              ? 'The edited video appears here when the job completes.'
              : `No output: the job ended ${job.status}.`,
          ),
        ),
      ),
    );
    section.append(linkVideos([input.video]));
    return;
  }
  const output = figure('output', 'Output');
  output.video.addEventListener('loadedmetadata', () => {
    const resolution = document.getElementById('output-resolution');
    if (resolution !== null && resolution.textContent === '') {
      resolution.textContent = `${output.video.videoWidth}×${output.video.videoHeight}`;
    }
  });
  section.replaceChildren(
    h('div', { class: 'videos' }, input.element, output.element),
    linkVideos([output.video, input.video]),
  );
}

function renderFacts(list: HTMLElement, job: PublicJob): void {
  const rows: [string, string | Node][] = [
    ['Source', `s3://${job.source.bucket}/${job.source.key}`],
    ['Attempt', String(job.attempt)],
    ['Checks', String(job.pollCount)],
    ['Provider status', job.providerStatus ?? '—'],
    ['Credits', job.creditsUsed === undefined ? '—' : String(job.creditsUsed)],
    ['Created', shortTime(job.createdAt)],
  ];
  if (job.completedAt)
    rows.push([
      'Turnaround',
      formatSeconds((Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000),
    ]);
  const eta = etaElement(job, true);
  if (eta) rows.push(['Expected done', eta]);
  if (job.generationId) rows.push(['Generation', job.generationId]);
  if (job.output) {
    const size = job.output.width ? `${job.output.width}×${job.output.height}, ` : '';
    const length = job.output.durationSeconds ? `${job.output.durationSeconds.toFixed(1)} s, ` : '';
    rows.push(
      ['Output', `s3://${job.output.bucket}/${job.output.key}`],
      ['Output size', `${size}${length}${formatBytes(job.output.size)}`],
      // The record may not carry the resolution: the page reads it from the video itself.
      [
        'Resolution',
        h(
          'span',
          { id: 'output-resolution' },
          job.output.width ? `${job.output.width}×${job.output.height}` : '',
        ),
      ],
    );
  }
  if (job.error)
    rows.push([
      'Error',
      h(
        'span',
        { class: 'error', id: 'job-error' },
        h('strong', {}, job.error.code),
        ` — ${explainError(job.error)}`,
      ),
    ]);
  list.replaceChildren(...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

function paramsTable(params: readonly ParamRow[], problems: readonly string[]): HTMLElement {
  if (params.length === 0) return h('p', { class: 'muted' }, 'No request was sent to the provider.');
  return h(
    'div',
    {},
    h('h3', {}, 'Parameters sent'),
    h(
      'table',
      { class: 'params', id: 'params' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Parameter'),
          h('th', { scope: 'col' }, 'Value'),
          h('th', { scope: 'col' }, 'From'),
        ),
      ),
      h(
        'tbody',
        {},
        params.map((row) =>
          h(
            'tr',
            { 'data-param': row.name },
            h('th', { scope: 'row' }, row.name),
            h('td', {}, row.value),
            h(
              'td',
              { title: row.from ?? '' },
              ORIGIN_WORDS[row.origin] ?? row.origin,
              row.note ? h('div', { class: 'note' }, row.note) : null,
            ),
          ),
        ),
      ),
    ),
    problems.length === 0
      ? null
      : h(
          'ul',
          { class: 'note' },
          problems.map((problem) => h('li', {}, problem)),
        ),
  );
}

function stepOf(step: TimelineStep): HTMLLIElement {
  return h(
    'li',
    { class: `step t-${step.tone}`, 'data-source': step.source },
    h('time', { datetime: step.at ?? '' }, step.at ? shortTime(step.at).slice(11) : '—'),
    h('span', { class: 'step-title' }, step.title),
    step.detail ? h('span', { class: 'step-detail' }, step.detail) : null,
  );
}

function renderActions(box: HTMLElement, job: PublicJob, refresh: (job: PublicJob) => Promise<void>): void {
  const act = (label: string, id: string, run: () => Promise<void>) => {
    const button = h('button', { type: 'button', id }, label);
    button.addEventListener('click', () => {
      button.disabled = true;
      run()
        .catch((error: unknown) => showBanner(error instanceof Error ? error.message : String(error)))
        .finally(() => {
          button.disabled = false;
        });
    });
    return button;
  };
  const copy = (label: string, id: string, text: string) =>
    act(label, id, async () => {
      await navigator.clipboard.writeText(text).catch(() => undefined);
      showBanner(`copied ${text}`, 'info');
    });
  box.replaceChildren(
    ...(IN_FLIGHT.has(job.status)
      ? [
          act('Cancel', 'cancel', async () => {
            if (!confirm(`Cancel job ${job.jobId}? A generation under way is not refunded.`)) return;
            await refresh(
              (await api<{ job: PublicJob }>(`/api/jobs/${job.jobId}/cancel`, { method: 'POST', body: '{}' }))
                .job,
            );
          }),
        ]
      : []),
    ...(RETRYABLE.has(job.status)
      ? [
          act('Retry', 'retry', async () => {
            await refresh(
              (await api<{ job: PublicJob }>(`/api/jobs/${job.jobId}/retry`, { method: 'POST' })).job,
            );
          }),
        ]
      : []),
    ...(job.output
      ? [
          h(
            'a',
            {
              class: 'button',
              id: 'download',
              href: `/media/${job.jobId}/output?download=1`,
              download: `${job.jobId}.mp4`,
            },
            'Download',
          ),
        ]
      : []),
    copy('Copy job id', 'copy-id', job.jobId),
    ...(job.output
      ? [copy('Copy output S3 URI', 'copy-uri', `s3://${job.output.bucket}/${job.output.key}`)]
      : []),
  );
}
