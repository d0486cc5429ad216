/**
 * The console's page: one HTML shell, one script bundled from `console/web/` with esbuild (the
 * project's own bundler) when the server starts, one stylesheet. Nothing is fetched from a CDN.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * `console/web/` of the clone: found from the repository root, since this module runs from
 * `console/server/` (tsx) or from the CLI's bundle in `dist/`, at different depths.
 */
const WEB_DIR = join(repositoryRoot(dirname(fileURLToPath(import.meta.url))), 'console', 'web');

function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export interface ConsoleAssets {
  readonly html: string;
  readonly script: string;
  readonly styles: string;
}

let cached: Promise<ConsoleAssets> | undefined;

/**
 * The bundled page (built once per process).
 * @throws (rejection) esbuild's error when the page's source does not compile.
 */
export function loadAssets(): Promise<ConsoleAssets> {
  cached ??= bundle().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function bundle(): Promise<ConsoleAssets> {
  const [result, styles] = await Promise.all([
    build({
      entryPoints: [join(WEB_DIR, 'main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      minify: true,
      target: 'es2022',
      platform: 'browser',
      logLevel: 'silent',
    }),
    readFile(join(WEB_DIR, 'styles.css'), 'utf8'),
  ]);
  const script = result.outputFiles[0]?.text ?? '';
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vidflow console</title>
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="#/jobs">vidflow</a>
  <nav aria-label="Sections">
    <a href="#/jobs" data-nav="jobs">Jobs</a>
    <a href="#/overview" data-nav="overview">Overview</a>
    <a href="#/upload" data-nav="upload">Upload</a>
  </nav>
  <span id="target" class="target"></span>
</header>
<div id="banner" role="alert" hidden></div>
<main id="main" tabindex="-1"></main>
</body>
</html>
`;
  return { html, script, styles };
}
