/**
 * `vidflow`: the executable's entry point (`bin/vidflow.js` runs its build, `dist/main.js`); the
 * program is in `program.ts`.
 */
import { exitQuietlyOnClosedPipe } from './pipes.js';
import { runCli } from './program.js';

// The local tools run on Node 20 knowingly (Lambda runs Node 24): keep the SDK's notice out of the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

exitQuietlyOnClosedPipe(process.stdout);
exitQuietlyOnClosedPipe(process.stderr);

process.exitCode = await runCli(process.argv);
