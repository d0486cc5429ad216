/**
 * The vidflow console's page: a hash router over four views. Plain DOM and TypeScript, bundled
 * by esbuild when the server starts (see console/README.md for why no framework).
 */
import { api, type Target } from './api.js';
import { h, showBanner } from './dom.js';
import { renderJob } from './job-page.js';
import { renderJobs } from './jobs-page.js';
import { beginView, isCurrentView } from './live.js';
import { renderOverview } from './overview-page.js';
import { renderUpload } from './upload-page.js';

let target: Promise<Target> | undefined;

function loadTarget(): Promise<Target> {
  target ??= api<Target>('/api/target').then((loaded) => {
    const label = document.getElementById('target');
    if (label) label.textContent = loaded.description;
    return loaded;
  });
  target.catch(() => {
    target = undefined;
  });
  return target;
}

async function show(): Promise<void> {
  const main = document.getElementById('main');
  if (main === null) return;
  const view = beginView();
  // Rendered apart and shown only if no later navigation started meanwhile.
  const section = document.createElement('div');
  const showSection = () => {
    if (!isCurrentView(view)) return;
    // A view renders apart while the previous one stays on screen: text typed into its source
    // filter meanwhile (not yet applied) is carried over rather than lost.
    const typed = main.querySelector<HTMLInputElement>('#filter-source');
    const fresh = section.querySelector<HTMLInputElement>('#filter-source');
    if (typed !== null && fresh !== null && typed.value !== typed.defaultValue) fresh.value = typed.value;
    main.replaceChildren(section);
  };
  const [path = '', queryText = ''] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(queryText);
  const page = path.split('/')[1] ?? 'jobs';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset.nav === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  try {
    // The target is needed by the upload page only: the others do not wait for it.
    const loaded = loadTarget();
    const value = (name: string) => query.get(name) ?? undefined;
    if (page === 'job') await renderJob(section, view, path.split('/')[2] ?? '');
    else if (page === 'overview') await renderOverview(section, value('since') ?? '24h');
    else if (page === 'upload') renderUpload(section, await loaded);
    else {
      const filters = {
        status: value('status'),
        since: value('since'),
        source: value('source'),
        before: value('before'),
      };
      await renderJobs(
        section,
        view,
        Object.fromEntries(Object.entries(filters).filter(([, each]) => each !== undefined)),
      );
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    showBanner(message);
    section.replaceChildren(
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'error' }, message),
      h('p', {}, h('a', { href: '#/jobs' }, 'Back to the jobs'), ' — or reload once the problem is fixed.'),
    );
  }
  showSection();
}

window.addEventListener('hashchange', () => void show());
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void show());
else void show();
