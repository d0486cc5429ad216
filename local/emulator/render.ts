/**
 * Rendering of an emulated generation with ffmpeg: the first `duration` seconds of the input
 * (looped when shorter), fitted to the requested frame size, restyled by a filter chosen from the
 * prompt, with the prompt burned in when a font is available. H.264, yuv420p, 24 fps, +faststart.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFfmpeg } from '../ffmpeg.js';

/** Frames per second of every output, like Runway's. */
export const OUTPUT_FPS = 24;

/** A visible restyle: `name` for people, `filter` an ffmpeg filter chain. */
export interface Restyle {
  readonly name: string;
  readonly filter: string;
}

const SEPIA = 'colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131';

const KEYWORD_RESTYLES: readonly { readonly pattern: RegExp; readonly restyle: Restyle }[] = [
  { pattern: /\b(negative|invert(ed)?|inverse|x-?ray)\b/i, restyle: { name: 'negate', filter: 'negate' } },
  {
    pattern: /\b(sketch|pencil|edges?|outline|line art|drawing|comic|cartoon|ink)\b/i,
    restyle: { name: 'edges', filter: 'edgedetect=mode=colormix:low=0.05:high=0.2' },
  },
  {
    pattern: /\b(black and white|black & white|b&w|monochrome|greyscale|grayscale|noir)\b/i,
    restyle: { name: 'monochrome', filter: 'hue=s=0' },
  },
  { pattern: /\b(sepia|vintage|old|retro|1920s|antique)\b/i, restyle: { name: 'sepia', filter: SEPIA } },
  {
    pattern: /\b(night|dark|moonlit|moon|midnight)\b/i,
    restyle: { name: 'night', filter: 'colorchannelmixer=rr=0.4:gg=0.5:bb=0.9:bg=0.2' },
  },
  {
    pattern: /\b(fire|warm|sunset|autumn|golden|desert|lava)\b/i,
    restyle: { name: 'warm', filter: 'colorchannelmixer=rr=1:rg=0.3:gg=0.8:bb=0.5' },
  },
  {
    pattern: /\b(winter|snow|cold|ice|icy|frozen|underwater|ocean)\b/i,
    restyle: { name: 'cold', filter: 'colorchannelmixer=rr=0.6:gg=0.9:bb=1:br=0.3' },
  },
];

/**
 * The restyle for a prompt: the first keyword match, else a hue rotation derived from the prompt
 * and seed (so different prompts visibly differ).
 */
export function chooseRestyle(prompt: string, seed: number): Restyle {
  const match = KEYWORD_RESTYLES.find(({ pattern }) => pattern.test(prompt));
  if (match) return match.restyle;
  const digest = createHash('sha256').update(`${seed}:${prompt}`).digest();
  const degrees = 60 + (digest.readUInt16BE(0) % 240);
  return { name: `hue+${degrees}`, filter: `hue=h=${degrees}:s=1.5` };
}

let fontFile: string | null | undefined;

function findFile(dir: string, wanted: (name: string) => boolean, depth: number): string | undefined {
  if (depth < 0 || !existsSync(dir)) return undefined;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  const file = entries.find((entry) => entry.isFile() && wanted(entry.name));
  if (file) return join(dir, file.name);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const found = findFile(join(dir, entry.name), wanted, depth - 1);
    if (found) return found;
  }
  return undefined;
}

/** DejaVuSans under /usr/share/fonts, else any DejaVu Sans face, else `undefined` (no text is drawn). */
export function findFont(): string | undefined {
  if (fontFile === undefined) {
    const root = '/usr/share/fonts';
    fontFile =
      findFile(root, (name) => name === 'DejaVuSans.ttf', 4) ??
      findFile(root, (name) => /^DejaVuSans.*\.ttf$/.test(name), 4) ??
      null;
  }
  return fontFile ?? undefined;
}

/** Escapes a value for an ffmpeg filter option, then for the filter graph it sits in. */
function escapeFilterValue(value: string): string {
  const option = value.replace(/[\\:']/g, '\\$&');
  return option.replace(/[\\'[\],;]/g, '\\$&');
}

/** Wraps the prompt into at most `maxLines` lines of `lineChars`, with an ellipsis when cut. */
export function wrapPrompt(prompt: string, lineChars: number, maxLines: number): string {
  const words = prompt.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (Array.from(candidate).length <= lineChars) {
      line = candidate;
      continue;
    }
    if (line !== '') lines.push(line);
    line = Array.from(word).slice(0, lineChars).join('');
    if (lines.length === maxLines) break;
  }
  if (lines.length < maxLines && line !== '') lines.push(line);
  const shown = lines.slice(0, maxLines);
  if (shown.join(' ').length < prompt.trim().replace(/\s+/g, ' ').length) {
    const last = shown.length - 1;
    shown[last] = `${Array.from(shown[last] ?? '')
      .slice(0, Math.max(0, lineChars - 1))
      .join('')}…`;
  }
  return shown.join('\n');
}

/** What to render. */
export interface RenderRequest {
  readonly inputPath: string;
  readonly outputPath: string;
  /** `WIDTH:HEIGHT`, e.g. `1280:720`. */
  readonly frameSize: string;
  readonly durationSeconds: number;
  readonly prompt: string;
  readonly seed: number;
  readonly signal?: AbortSignal;
}

/**
 * Renders the output video; resolves once `outputPath` is complete.
 * @throws FfmpegFailedError when ffmpeg cannot decode the input or encode the output.
 */
export async function renderGeneration(request: RenderRequest): Promise<Restyle> {
  const [width = 1280, height = 720] = request.frameSize.split(':').map(Number);
  const restyle = chooseRestyle(request.prompt, request.seed);
  const filters = [
    `fps=${OUTPUT_FPS}`,
    `scale=${width}:${height}:force_original_aspect_ratio=decrease`,
    // Restyle before padding, so the bars stay black whatever the effect.
    restyle.filter,
    `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:black`,
    'setsar=1',
  ];
  const font = findFont();
  const textPath = `${request.outputPath}.txt`;
  if (font !== undefined) {
    const fontSize = Math.max(12, Math.round(Math.min(width, height) / 22));
    const lineChars = Math.max(10, Math.floor(width / (fontSize * 0.6)));
    await writeFile(textPath, wrapPrompt(request.prompt, lineChars, 3));
    filters.push(
      [
        `drawtext=fontfile=${escapeFilterValue(font)}`,
        `textfile=${escapeFilterValue(textPath)}`,
        'expansion=none',
        `fontsize=${fontSize}`,
        'fontcolor=white',
        'box=1',
        'boxcolor=black@0.55',
        `boxborderw=${Math.round(fontSize / 3)}`,
        `x=(w-text_w)/2`,
        `y=h-text_h-${fontSize}`,
      ].join(':'),
    );
  }
  filters.push('format=yuv420p');
  try {
    await runFfmpeg(
      [
        '-y',
        '-stream_loop',
        '-1',
        '-i',
        request.inputPath,
        '-map',
        '0:v:0',
        '-vf',
        filters.join(','),
        '-frames:v',
        String(Math.round(request.durationSeconds * OUTPUT_FPS)),
        '-r',
        String(OUTPUT_FPS),
        '-an',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-crf',
        '23',
        '-pix_fmt',
        'yuv420p',
        '-movflags',
        '+faststart',
        request.outputPath,
      ],
      request.signal ? { signal: request.signal } : {},
    );
  } finally {
    await rm(textPath, { force: true });
  }
  return restyle;
}
