/**
 * Live progress: on a terminal, a block of lines (one per job) rewritten in place; on a pipe,
 * a plain line each time a job's state changes (never for the elapsed time alone), so logs stay
 * readable. Hand-written over two ANSI sequences rather than a progress library, because the
 * display is one line per job and nothing more.
 */
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import type { TextSink } from './format.js';

export interface LiveEntry {
  /** Identity of the line (a job id). */
  readonly key: string;
  /** What is shown now, elapsed time included. */
  readonly text: string;
  /** What must change for a pipe to get a new line (the text without the elapsed time). */
  readonly signature: string;
}

/** ESC [ n F: cursor to the start of the line n lines up; ESC [ J: clear to the end of the screen. */
const upAndClear = (lines: number): string => (lines > 0 ? `\u001b[${lines}F\u001b[J` : '');

export class LiveLines {
  private drawn = 0;
  private lastDrawn: readonly LiveEntry[] = [];
  private readonly printed = new Map<string, string>();

  constructor(private readonly sink: TextSink) {}

  /** True when lines are rewritten in place. */
  get live(): boolean {
    return this.sink.isTTY === true;
  }

  /** Show the current state of every entry. */
  render(entries: readonly LiveEntry[]): void {
    if (this.live) {
      this.sink.write(
        `${upAndClear(this.drawn)}${entries.map((entry) => `${this.fit(entry.text)}\n`).join('')}`,
      );
      this.drawn = entries.length;
      this.lastDrawn = entries;
      return;
    }
    for (const entry of entries) {
      if (this.printed.get(entry.key) === entry.signature) continue;
      this.printed.set(entry.key, entry.signature);
      this.sink.write(`${entry.text}\n`);
    }
  }

  /** A permanent line (a job that ended), printed above the live block. */
  log(key: string, text: string, signature = text): void {
    if (this.live) {
      this.sink.write(`${upAndClear(this.drawn)}${text}\n`);
      this.drawn = 0;
      const rest = this.lastDrawn.filter((entry) => entry.key !== key);
      this.render(rest);
      return;
    }
    if (this.printed.get(key) === signature) return;
    this.printed.set(key, signature);
    this.sink.write(`${text}\n`);
  }

  private fit(text: string): string {
    const columns = this.sink.columns;
    // By display width: a line as wide as the terminal wraps and breaks the in-place rewrite.
    return columns !== undefined && columns > 1 && stringWidth(text) >= columns
      ? cliTruncate(text, columns - 1, { position: 'end' })
      : text;
  }
}
