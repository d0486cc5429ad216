/**
 * What an object created in the input bucket means (README, "Dropping a video").
 */

export const VIDEO_SUFFIXES = ['.mp4', '.mov', '.m4v', '.webm', '.mkv'] as const;
export const PRESET_FILE_NAME = '_defaults.json';
export const MANIFEST_PREFIX = 'jobs/';
const JSON_SUFFIX = '.json';

export type Drop =
  | { readonly kind: 'video'; readonly key: string }
  | { readonly kind: 'sidecar'; readonly key: string; readonly videoKey: string }
  | { readonly kind: 'preset'; readonly key: string; readonly folder: string }
  | { readonly kind: 'manifest'; readonly key: string }
  | { readonly kind: 'ignored'; readonly key: string };

export function isVideoKey(key: string): boolean {
  const lower = key.toLowerCase();
  return VIDEO_SUFFIXES.some((suffix) => lower.endsWith(suffix) && lower.length > suffix.length);
}

/**
 * Classify an input-bucket key; suffixes (`.mp4`, `.json`, ...) match in any case, names and
 * prefixes (`_defaults.json`, `jobs/`) exactly as documented. A `.json` named after a video key is
 * that video's sidecar, in `jobs/` too (`jobs/clip.mp4.json`); any other `jobs/*.json` is a
 * manifest.
 */
export function classifyDrop(key: string): Drop {
  const lower = key.toLowerCase();
  if (isVideoKey(key)) return { kind: 'video', key };
  if (baseName(key) === PRESET_FILE_NAME) return { kind: 'preset', key, folder: folderOf(key) };
  if (lower.endsWith(JSON_SUFFIX)) {
    const videoKey = key.slice(0, -JSON_SUFFIX.length);
    if (isVideoKey(videoKey)) return { kind: 'sidecar', key, videoKey };
    if (key.startsWith(MANIFEST_PREFIX)) return { kind: 'manifest', key };
  }
  return { kind: 'ignored', key };
}

/** True when `key` is a sidecar key of `videoKey`: `<videoKey>.json`, `.json` in any case. */
export function isSidecarKeyOf(key: string, videoKey: string): boolean {
  return (
    key.length === videoKey.length + JSON_SUFFIX.length &&
    key.startsWith(videoKey) &&
    key.slice(videoKey.length).toLowerCase() === JSON_SUFFIX
  );
}

/** The sidecar key of a video: `trips/clip.mp4` -> `trips/clip.mp4.json`. */
export function sidecarKeyOf(videoKey: string): string {
  return `${videoKey}${JSON_SUFFIX}`;
}

/** The folder of a key with its trailing slash (`a/b/c.mp4` -> `a/b/`), or '' at the top. */
export function folderOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash + 1);
}

function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** Preset keys to try for a video, nearest folder first: `a/b/_defaults.json`, `a/_defaults.json`, `_defaults.json`. */
export function presetKeysFor(videoKey: string): string[] {
  const keys: string[] = [];
  let folder = folderOf(videoKey);
  for (;;) {
    keys.push(`${folder}${PRESET_FILE_NAME}`);
    if (folder === '') return keys;
    folder = folderOf(folder.slice(0, -1));
  }
}

/**
 * Is `key` a safe key of the input bucket to name from a manifest? Refuses empty keys,
 * leading slashes, `.`/`..` segments and URLs, so a manifest cannot point elsewhere.
 */
export function isSafeManifestVideoKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024 || key.startsWith('/')) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(key)) return false;
  return key.split('/').every((segment) => segment !== '.' && segment !== '..');
}

/**
 * Does creating `key` start a job? A video suffix in any case: every created object notifies
 * submit (S3 filters are case-sensitive, so the stack does not filter), and submit classifies it.
 */
export function triggersVideoJob(key: string): boolean {
  // Every created object notifies submit, which classifies the key itself: any case is a video.
  return classifyDrop(key).kind === 'video';
}

/**
 * Why uploading a video to `key` would not become a job (or a job of the key meant), for
 * tools that upload on a user's behalf (`vidflow submit`).
 *
 * @returns one sentence, or `undefined` when the key is fine.
 */
export function videoDropKeyProblem(key: string): string | undefined {
  if (key.startsWith('/')) {
    return `key "${key}" starts with "/": S3 keys have no leading slash (that would be an empty top folder); use "${key.replace(/^\/+/, '')}"`;
  }
  if (!isSafeManifestVideoKey(key)) {
    return `key "${key}" is not a plain key of the input bucket (no "." or ".." segments, no URL, at most 1024 characters)`;
  }
  if (!triggersVideoJob(key)) {
    return `key "${key}" does not end in a video suffix (${VIDEO_SUFFIXES.join(', ')}, any case), so no job would start`;
  }
  return undefined;
}

const CONTENT_TYPE_BY_SUFFIX: Readonly<Record<string, string>> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/x-m4v',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
};

/**
 * The content type the provider is shown for an input: the stored one when it names a video,
 * else the one its suffix implies (uploads often carry `application/octet-stream`, which
 * the provider refuses).
 */
export function videoContentType(source: { readonly key: string; readonly contentType: string }): string {
  if (source.contentType.toLowerCase().startsWith('video/')) return source.contentType;
  const lower = source.key.toLowerCase();
  const suffix = VIDEO_SUFFIXES.find((candidate) => lower.endsWith(candidate));
  return (suffix && CONTENT_TYPE_BY_SUFFIX[suffix]) ?? 'video/mp4';
}
