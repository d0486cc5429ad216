/**
 * The CLI's build step (`npm run build`, also run by `npm ci`/`npm install` through `prepare`
 * and before every test run): bundles `cli/main.ts` and the modules it loads into JavaScript
 * under `dist/`, which `bin/vidflow.js` runs. Packages stay external (resolved from the clone's
 * `node_modules`), and lazily imported commands become separate chunks, so `vidflow status`
 * still does not load the CDK.
 *
 * `dist/` sits one level below the repository root, as `infra/` and `cli/` do, so every
 * `new URL('../…', import.meta.url)` (cdk.json, package.json, the handlers' sources) resolves
 * to the same file from the bundle as from the sources.
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** Where the bundle goes; `bin/vidflow.js` imports `dist/main.js`. */
export const DIST_DIR = fileURLToPath(new URL('../dist', import.meta.url));

/**
 * Bundles the CLI into `dist/` (replacing what was there).
 *
 * @throws Error (esbuild's) when a source does not compile.
 */
export async function buildCli(): Promise<void> {
  await rm(DIST_DIR, { recursive: true, force: true });
  await build({
    entryPoints: { main: fileURLToPath(new URL('./main.ts', import.meta.url)) },
    outdir: DIST_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildCli();
}
