/**
 * A reader that closes its end of the pipe early (`vidflow list | head -3`) is not an error:
 * the output is no longer wanted, so the command stops, quietly, as `cat` and `ls` do.
 */

/** The stream to watch, and how to leave (injected by tests). */
export interface ClosablePipe {
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown;
}

/**
 * Exit the process with code 0 when `stream` reports EPIPE (its reader went away); any other
 * stream error is rethrown as before.
 *
 * @throws the stream's error when it is anything but EPIPE (from the listener, as Node would).
 */
export function exitQuietlyOnClosedPipe(
  stream: ClosablePipe,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') exit(0);
    else throw error;
  });
}
