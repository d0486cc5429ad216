/** The jobs list: newest first, filtered like `vidflow list`, paged, live. */
import { api, type PublicJob, STATUSES } from './api.js';
import { h, shortTime } from './dom.js';
import { etaElement } from './eta.js';
import { listen } from './live.js';

export interface JobsQuery {
  readonly status?: string;
  readonly since?: string;
  readonly source?: string;
  readonly before?: string;
}

const WINDOWS = [
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
] as const;

function hashOf(query: JobsQuery): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  const text = params.toString();
  return `#/jobs${text ? `?${text}` : ''}`;
}

export async function renderJobs(main: HTMLElement, view: number, query: JobsQuery): Promise<void> {
  const status = h(
    'select',
    { id: 'filter-status', name: 'status' },
    h('option', { value: '' }, 'any status'),
    STATUSES.map((each) => h('option', { value: each, selected: query.status === each }, each)),
  );
  const since = h(
    'select',
    { id: 'filter-since', name: 'since' },
    WINDOWS.map(([value, label]) =>
      h('option', { value, selected: (query.since ?? '24h') === value }, label),
    ),
  );
  const source = h('input', {
    id: 'filter-source',
    name: 'source',
    type: 'search',
    placeholder: 'trips/ or trips/clip.mp4',
    value: query.source ?? '',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    h('label', { for: 'filter-status' }, 'Status'),
    status,
    h('label', { for: 'filter-since' }, 'Window'),
    since,
    h('label', { for: 'filter-source' }, 'Source key or prefix'),
    source,
    h('button', { type: 'submit' }, 'Apply'),
  );
  const apply = () => {
    location.hash = hashOf({ status: status.value, since: since.value, source: source.value.trim() });
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });
  status.addEventListener('change', apply);
  since.addEventListener('change', apply);
  const body = h('tbody');
  const summary = h('p', { class: 'summary', 'aria-live': 'polite', id: 'jobs-summary' }, 'Loading…');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  main.replaceChildren(
    h('h1', {}, 'Jobs'),
    form,
    summary,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'jobs', id: 'jobs-table' },
        h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Job', 'Status', 'Since (UTC)', 'Source', 'Prompt', 'Detail'].map((name) =>
              h('th', { scope: 'col' }, name),
            ),
          ),
        ),
        body,
      ),
    ),
    pager,
  );
  const load = async () => {
    const params = new URLSearchParams({ limit: '50', since: query.since ?? '24h' });
    if (query.status) params.set('status', query.status);
    if (query.source) params.set('source', query.source);
    if (query.before) params.set('before', query.before);
    const page = await api<{ jobs: PublicJob[]; more: boolean; nextBefore?: string }>(`/api/jobs?${params}`);
    body.replaceChildren(...page.jobs.map(rowOf));
    summary.textContent =
      page.jobs.length === 0
        ? 'No jobs match.'
        : `${page.jobs.length} job${page.jobs.length === 1 ? '' : 's'}${page.more ? ' on this page' : ''}${query.before ? `, before ${shortTime(query.before)}` : ''}`;
    pager.replaceChildren(
      ...(query.before
        ? [h('a', { href: hashOf({ ...query, before: undefined }), class: 'button' }, '← Newest')]
        : []),
      ...(page.more && page.nextBefore
        ? [
            h(
              'a',
              { href: hashOf({ ...query, before: page.nextBefore }), class: 'button', id: 'older' },
              'Older →',
            ),
          ]
        : []),
    );
    requestAnimationFrame(() => performance.mark('vidflow:jobs-painted'));
  };
  await load();
  // Live: a change reloads the first page (later pages stay put so reading them is not disturbed).
  let pending: ReturnType<typeof setTimeout> | undefined;
  listen(view, () => {
    if (query.before) return;
    clearTimeout(pending);
    pending = setTimeout(() => void load(), 250);
  });
}

function rowOf(job: PublicJob): HTMLTableRowElement {
  const detail = job.error
    ? job.error.code
    : job.status === 'WAITING'
      ? `waiting for ${job.waitingFor === 'BUDGET' ? 'budget' : 'a slot'}`
      : (etaElement(job, false) ?? (job.output?.width ? `${job.output.width}×${job.output.height}` : ''));
  return h(
    'tr',
    { 'data-job': job.jobId, 'data-status': job.status },
    h('td', {}, h('a', { href: `#/job/${job.jobId}`, class: 'mono' }, job.jobId)),
    h('td', {}, h('span', { class: `status s-${job.status.toLowerCase()}` }, job.status)),
    h('td', { class: 'nowrap' }, shortTime(job.statusChangedAt)),
    h('td', { class: 'key' }, job.source.key),
    h('td', { class: 'prompt' }, job.request?.prompt ?? ''),
    h('td', {}, detail),
  );
}
