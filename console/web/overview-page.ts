/** Counts per status, credits per day, turnaround p50/p95 and its histogram, over a window. */
import { api, type Overview, STATUSES } from './api.js';
import { formatSeconds, h, svg } from './dom.js';

const WINDOWS = ['1h', '24h', '7d', '30d'] as const;

export async function renderOverview(main: HTMLElement, since: string): Promise<void> {
  const picker = h(
    'select',
    { id: 'overview-since' },
    WINDOWS.map((value) => h('option', { value, selected: value === since }, `last ${value}`)),
  );
  picker.addEventListener('change', () => {
    location.hash = `#/overview?since=${picker.value}`;
  });
  const overview = await api<Overview>(`/api/overview?since=${encodeURIComponent(since)}`);
  const { p50, p95, completed } = overview.turnaroundSeconds;
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    h(
      'p',
      {},
      h('label', { for: 'overview-since' }, 'Window '),
      picker,
      ` — ${overview.jobs} jobs since ${overview.since.slice(0, 16).replace('T', ' ')} UTC`,
    ),
    h(
      'div',
      { class: 'cards' },
      card('Jobs', String(overview.jobs)),
      card('Credits used', String(overview.creditsUsed)),
      card('Turnaround p50', p50 === null ? '—' : formatSeconds(p50)),
      card('Turnaround p95', p95 === null ? '—' : formatSeconds(p95)),
    ),
    h(
      'div',
      { class: 'charts' },
      chartSection(
        'Jobs per status',
        'chart-status',
        barChart(
          STATUSES.map((status) => ({
            label: status.replaceAll('_', ' '),
            value: overview.byStatus[status] ?? 0,
          })),
        ),
      ),
      chartSection(
        'Credits per day (UTC)',
        'chart-credits',
        barChart(overview.creditsByDay.map((day) => ({ label: day.day.slice(5), value: day.credits }))),
      ),
      chartSection(
        `Turnaround of ${completed} completed job${completed === 1 ? '' : 's'}`,
        'chart-turnaround',
        barChart(
          overview.turnaroundHistogram.counts.map((count, index) => ({
            label: `<${formatSeconds((index + 1) * overview.turnaroundHistogram.bucketSeconds)}`,
            value: count,
          })),
        ),
      ),
    ),
  );
}

function card(label: string, value: string): HTMLElement {
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value' }, value),
  );
}

function chartSection(
  title: string,
  id: string,
  chart: { svg: SVGElement; table: HTMLTableElement },
): HTMLElement {
  return h(
    'section',
    { class: 'chart', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    chart.svg,
    h('details', {}, h('summary', {}, 'Data'), chart.table),
  );
}

/** A bar chart as inline SVG, with the same figures as a table for screen readers. */
function barChart(bars: readonly { label: string; value: number }[]): {
  svg: SVGElement;
  table: HTMLTableElement;
} {
  const width = 560;
  const height = 200;
  const bottom = 56;
  const left = 40;
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const slot = (width - left) / Math.max(1, bars.length);
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    class: 'bars',
    'aria-hidden': 'true',
    preserveAspectRatio: 'none',
  });
  bars.forEach((bar, index) => {
    const barHeight = ((height - bottom - 14) * bar.value) / max;
    const x = left + index * slot + slot * 0.15;
    const y = height - bottom - barHeight;
    chart.append(
      svg(
        'rect',
        { x, y, width: slot * 0.7, height: Math.max(barHeight, bar.value > 0 ? 1 : 0), rx: 2, class: 'bar' },
        svg('title', {}, `${bar.label}: ${bar.value}`),
      ),
      svg(
        'text',
        { x: x + slot * 0.35, y: y - 3, 'text-anchor': 'middle', class: 'bar-value' },
        bar.value > 0 ? String(bar.value) : '',
      ),
      svg(
        'text',
        {
          x: x + slot * 0.35,
          y: height - bottom + 14,
          'text-anchor': 'end',
          class: 'bar-label',
          transform: `rotate(-35 ${x + slot * 0.35} ${height - bottom + 14})`,
        },
        bar.label,
      ),
    );
  });
  const table = h(
    'table',
    { class: 'data' },
    h(
      'tbody',
      {},
      bars.map((bar) => h('tr', {}, h('th', { scope: 'row' }, bar.label), h('td', {}, String(bar.value)))),
    ),
  );
  return { svg: chart, table };
}
