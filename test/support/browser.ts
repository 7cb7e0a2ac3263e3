// A headless Chromium for the browser tests that comes from the npm registry, so `npm test` needs nothing but Node.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BrowserContext, chromium } from 'playwright-core';

/**
 * The flags that work on these machines: no sandbox (tests may run as root) and nothing that phones home, which a
 * closed network would refuse many times a start.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--no-zygote',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let resolved: string | undefined;

/**
 * The browser binary: `CHROMIUM_PATH` when it names one (a system browser), otherwise the build shipped inside the
 * npm package `@sparticuz/chromium`, unpacked on first use. That package is an ES module, which jest's CommonJS
 * loader cannot import, so a short child process asks it for the path.
 */
export function chromiumExecutable(): string {
  if (resolved) return resolved;
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv)) return (resolved = fromEnv);
  const script =
    "import chromium from '@sparticuz/chromium'; process.stdout.write(await chromium.executablePath());";
  resolved = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(__dirname, '..', '..'),
    encoding: 'utf8',
    timeout: 120_000,
  }).trim();
  if (!existsSync(resolved))
    throw new Error(`@sparticuz/chromium gave a path that does not exist: ${resolved}`);
  return resolved;
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh persistent context in a throw-away profile directory, removed on close. */
export async function launchTestBrowser(viewport = { width: 1400, height: 1000 }): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'fips-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumExecutable(),
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
