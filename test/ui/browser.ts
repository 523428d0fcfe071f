/**
 * Debian's Chromium driven by playwright-core, in a fresh profile folder that is deleted
 * afterwards. `npx playwright install` cannot download browsers here, so the system
 * browser is used; scripts/install-peers.sh installs it when it is missing.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env['PHOENIX_CHROMIUM'] ?? '/usr/bin/chromium';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface RunningBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with an empty user-data-dir; fails with the install command if missing. */
export async function launchBrowser(): Promise<RunningBrowser> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: run \`bash scripts/install-peers.sh\` (as root, it installs Debian's chromium) or set PHOENIX_CHROMIUM`,
    );
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'phoenix-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 800 },
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
