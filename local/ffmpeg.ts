/**
 * Locating and running ffmpeg/ffprobe for the local runtime, the provider emulator and tests.
 *
 * Binaries are resolved, in order: the `VIDFLOW_FFMPEG` / `VIDFLOW_FFPROBE` environment variables,
 * the static binaries of the `@ffmpeg-installer/ffmpeg` / `@ffprobe-installer/ffprobe` npm packages,
 * then `ffmpeg` / `ffprobe` on `PATH`.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/** Environment variables that override where the binaries are found. */
export const FfmpegEnvName = {
  ffmpeg: 'VIDFLOW_FFMPEG',
  ffprobe: 'VIDFLOW_FFPROBE',
} as const;

/** No usable ffmpeg/ffprobe binary was found, or the configured one does not exist. */
export class FfmpegNotFoundError extends Error {
  override readonly name = 'FfmpegNotFoundError';
}

/** An ffmpeg or ffprobe run exited with a non-zero status; `stderr` holds its last output. */
export class FfmpegFailedError extends Error {
  override readonly name = 'FfmpegFailedError';
  constructor(
    message: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The probed file holds no video stream (an image, audio, text or garbage). */
export class NotAVideoError extends Error {
  override readonly name = 'NotAVideoError';
}

type Tool = 'ffmpeg' | 'ffprobe';

const resolved = new Map<Tool, string>();
const require = createRequire(import.meta.url);

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** npm sometimes unpacks the binaries without their executable bit; restore it when we may. */
function ensureExecutable(path: string): boolean {
  if (!existsSync(path)) return false;
  if (isExecutable(path)) return true;
  try {
    chmodSync(path, statSync(path).mode | 0o755);
  } catch {
    return false;
  }
  return isExecutable(path);
}

function installerBinary(tool: Tool): string | undefined {
  const binary = platform() === 'win32' ? `${tool}.exe` : tool;
  const candidates: string[] = [];
  try {
    const main: unknown = require(`@${tool}-installer/${tool}`);
    if (typeof main === 'object' && main !== null && 'path' in main && typeof main.path === 'string') {
      candidates.push(main.path);
    }
  } catch {
    // The installer package throws when its platform binary is missing; try the platform package itself.
  }
  try {
    candidates.push(
      join(dirname(require.resolve(`@${tool}-installer/${platform()}-${arch()}/package.json`)), binary),
    );
  } catch {
    // Not installed for this platform.
  }
  return candidates.find(ensureExecutable);
}

function pathBinary(tool: Tool): string | undefined {
  const binary = platform() === 'win32' ? `${tool}.exe` : tool;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function resolveTool(tool: Tool): string {
  const cached = resolved.get(tool);
  if (cached !== undefined) return cached;
  const envName = FfmpegEnvName[tool];
  const fromEnv = process.env[envName];
  let found: string | undefined;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!ensureExecutable(fromEnv)) {
      throw new FfmpegNotFoundError(`${envName} is set to ${fromEnv}, which is not an executable file`);
    }
    found = fromEnv;
  } else {
    found = installerBinary(tool) ?? pathBinary(tool);
  }
  if (found === undefined) {
    throw new FfmpegNotFoundError(
      `${tool} not found: set ${envName}, install @${tool}-installer/${tool}, or put ${tool} on PATH`,
    );
  }
  resolved.set(tool, found);
  return found;
}

/**
 * Absolute path of the ffmpeg binary (resolved once per process).
 * @throws FfmpegNotFoundError when none is usable.
 */
export function ffmpegPath(): string {
  return resolveTool('ffmpeg');
}

/**
 * Absolute path of the ffprobe binary (resolved once per process).
 * @throws FfmpegNotFoundError when none is usable.
 */
export function ffprobePath(): string {
  return resolveTool('ffprobe');
}

/** Options of {@link runFfmpeg}. */
export interface RunFfmpegOptions {
  /** Kills ffmpeg when aborted; the promise then rejects with the abort reason. */
  readonly signal?: AbortSignal;
}

const STDERR_TAIL_CHARS = 4000;

/**
 * Runs ffmpeg with `args` (`-hide_banner -nostdin` are prepended) and resolves when it exits 0.
 * @throws FfmpegFailedError on a non-zero exit, with the tail of its stderr.
 */
export function runFfmpeg(args: readonly string[], options: RunFfmpegOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      signal: options.signal,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.on('error', (error) => reject(options.signal?.aborted ? options.signal.reason : error));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (options.signal?.aborted) reject(options.signal.reason);
      else reject(new FfmpegFailedError(`ffmpeg exited with ${code ?? signal}: ${lastLine(stderr)}`, stderr));
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** Options of {@link makeTestClip}. */
export interface MakeTestClipOptions {
  /** Where to write the clip (parent folders are created). */
  readonly path: string;
  readonly seconds: number;
  readonly width: number;
  readonly height: number;
  /** Frames per second; default 24. */
  readonly fps?: number;
}

/**
 * Writes an H.264 MP4 test clip (ffmpeg's `testsrc2` pattern, no audio) and resolves to its path.
 * @throws FfmpegFailedError if ffmpeg fails.
 */
export async function makeTestClip(options: MakeTestClipOptions): Promise<string> {
  const { path, seconds, width, height, fps = 24 } = options;
  await mkdir(dirname(path), { recursive: true });
  await runFfmpeg([
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'fast',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    path,
  ]);
  return path;
}

/** What {@link probeVideo} reports about a video file. */
export interface VideoProbe {
  readonly width: number;
  readonly height: number;
  readonly durationSeconds: number;
  /** ffprobe's `codec_name` of the first video stream, e.g. `h264`. */
  readonly codec: string;
  /** ffprobe's `format_name`, e.g. `mov,mp4,m4a,3gp,3g2,mj2`. */
  readonly formatName: string;
}

interface FfprobeJson {
  readonly streams?: readonly {
    readonly codec_type?: string;
    readonly codec_name?: string;
    readonly width?: number;
    readonly height?: number;
    readonly duration?: string;
  }[];
  readonly format?: { readonly format_name?: string; readonly duration?: string };
}

/** Still-image and raw-pipe demuxers: ffprobe reports a "video" stream, but it is a picture. */
const IMAGE_FORMAT = /^(image2|.*_pipe|png|gif|webp|apng|bmp|tiff)$/;

/**
 * Probes a file with ffprobe (JSON output) and describes its first video stream.
 * @throws NotAVideoError when the file is not a video (no video stream, a still image, or no duration).
 */
export async function probeVideo(path: string): Promise<VideoProbe> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      ffprobePath(),
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) => {
        if (error)
          reject(new NotAVideoError(`ffprobe cannot read ${path}: ${lastLine(err)}`, { cause: error }));
        else resolve(out);
      },
    );
  });
  const probe = JSON.parse(stdout) as FfprobeJson;
  const stream = probe.streams?.find((s) => s.codec_type === 'video');
  const formatName = probe.format?.format_name ?? '';
  if (stream === undefined || IMAGE_FORMAT.test(formatName)) {
    throw new NotAVideoError(`${path} holds no video stream (format ${formatName || 'unknown'})`);
  }
  const durationSeconds = Number(probe.format?.duration ?? stream.duration);
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) {
    throw new NotAVideoError(`${path} has no duration`);
  }
  return {
    width: stream.width ?? 0,
    height: stream.height ?? 0,
    durationSeconds,
    codec: stream.codec_name ?? 'unknown',
    formatName,
  };
}
