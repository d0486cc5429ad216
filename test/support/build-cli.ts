/**
 * Vitest global setup: builds the CLI (`dist/`) once before the tests, so the `vidflow`
 * executable the tests spawn (`bin/vidflow.js`) runs the sources under test, never a stale build.
 */
import { buildCli } from '../../cli/build.js';

export default async function setup(): Promise<void> {
  await buildCli();
}
