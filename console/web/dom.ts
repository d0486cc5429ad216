/** A tiny element builder: enough for four pages, no framework to ship. */
type Child = Node | string | number | false | null | undefined;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** An SVG element (charts). */
export function svg(
  tag: string,
  attributes: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElement {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

/** `2025-01-01T10:00:00.000Z` -> `2025-01-01 10:00:00` (UTC, as the CLI prints). */
export function shortTime(iso: string | undefined): string {
  return iso === undefined ? '' : iso.slice(0, 19).replace('T', ' ');
}

/** 950 -> `0.9 s`, 75_000 -> `1 min 15 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Announces a message to screen readers and shows it in the banner. */
export function showBanner(message: string | undefined, tone: 'error' | 'info' = 'error'): void {
  const banner = document.getElementById('banner');
  if (banner === null) return;
  banner.hidden = message === undefined;
  banner.className = `banner ${tone}`;
  banner.textContent = message ?? '';
}
