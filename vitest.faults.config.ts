/**
 * The fault-injection tier (`npm run test:faults`, issue 4; `.ci/run` runs it after `npm test`),
 * kept out of `vitest run` for time. Its files mostly wait (on retries, backoff, restarts), so
 * three run side by side, and the rows of a table run concurrently within a file.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // `bin/vidflow.js` runs the build in dist/: rebuild it from the sources under test.
    globalSetup: ['test/support/build-cli.ts'],
    maxWorkers: 3,
    maxConcurrency: 40,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
