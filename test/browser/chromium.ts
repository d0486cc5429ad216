/**
 * Headless Chromium for the browser tier: Debian's `chromium` package (installed by `.ci/run`),
 * driven by playwright-core. Browser downloads do not work on the CI machines, so nothing is
 * fetched; `VIDFLOW_CHROMIUM` points at another executable.
 */
import { access } from 'node:fs/promises';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.VIDFLOW_CHROMIUM ?? '/usr/bin/chromium';

/**
 * @throws when the executable is missing, saying how to install it.
 */
export async function launchChromium(): Promise<Browser> {
  try {
    await access(CHROMIUM_PATH);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium) or set VIDFLOW_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    chromiumSandbox: false,
    args: ['--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  });
}
