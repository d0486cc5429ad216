/**
 * Loops that run until Ctrl-C (`watch`, `events --follow`): SIGINT or SIGTERM ends the loop at
 * its next turn instead of killing the process, so the command can print what it saw last.
 */

/**
 * Run `body` with a `stopped()` that turns true on SIGINT or SIGTERM; the handlers are removed
 * when `body` settles.
 */
export async function untilInterrupted<T>(body: (stopped: () => boolean) => Promise<T>): Promise<T> {
  let interrupted = false;
  const stop = () => {
    interrupted = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await body(() => interrupted);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
