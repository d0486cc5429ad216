/**
 * Cold start: each function bundled exactly as the stack bundles it (infra/vidflow-function.ts:
 * NodejsFunction with esbuild, ESM, target node22, main fields module,main, minified, external
 * source map, the require shim banner, nothing external), then imported in fresh node processes.
 * initMs is the median time of `await import(bundle)`: the module initialisation Lambda runs
 * before the first invocation (here on this machine's node, not Lambda's arm64 node 24).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { REPO_ROOT, VidflowFunctionName } from '../infra/vidflow-function.js';

const run = promisify(execFile);

/** The banner the stack adds (infra/vidflow-function.ts `ESM_REQUIRE_SHIM`). */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __vidflowCreateRequire } from 'node:module'; const require = __vidflowCreateRequire(import.meta.url);";

export interface BundleFigures {
  readonly bytes: number;
  readonly sourceMapBytes: number;
  readonly initMs: number;
  readonly initMsRuns: readonly number[];
}

export async function runBundleBenchmark(options: {
  readonly imports: number;
}): Promise<Record<VidflowFunctionName, BundleFigures>> {
  const outDir = await mkdtemp(join(tmpdir(), 'vidflow-bench-bundles-'));
  try {
    const figures: Partial<Record<VidflowFunctionName, BundleFigures>> = {};
    for (const name of Object.values(VidflowFunctionName)) {
      const outfile = join(outDir, name, 'index.mjs');
      await build({
        entryPoints: [join(REPO_ROOT, 'functions', name, 'handler.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourcemap: true,
        banner: { js: ESM_REQUIRE_SHIM },
        outfile,
        logLevel: 'warning',
      });
      const initMsRuns: number[] = [];
      for (let i = 0; i < options.imports; i += 1) initMsRuns.push(await timeImport(outfile));
      figures[name] = {
        bytes: (await stat(outfile)).size,
        sourceMapBytes: (await stat(`${outfile}.map`)).size,
        initMs: median(initMsRuns),
        initMsRuns,
      };
    }
    return {
      submit: required(figures.submit),
      check: required(figures.check),
      finalize: required(figures.finalize),
      'record-failure': required(figures['record-failure']),
      sweep: required(figures.sweep),
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

async function timeImport(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
  });
  return Number(stdout);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('a function was not measured');
  return value;
}
