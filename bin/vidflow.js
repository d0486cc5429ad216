#!/usr/bin/env node
// The `vidflow` executable: runs the CLI as built into dist/ by `npm run build` (which `npm ci`,
// `npm install`, `npm link` and `npm install -g .` run through `prepare`).
try {
  await import('../dist/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/main.js')) {
    process.stderr.write('vidflow: the CLI is not built; run `npm run build` in the vidflow repository\n');
    process.exitCode = 1;
  } else {
    throw error;
  }
}
