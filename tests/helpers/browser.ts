// The pages in a real browser: Chromium from the system's packages, driven by playwright-core, opening
// the links Gatehouse mails against an embedded harness that listens on a port of 127.0.0.1.
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PUBLIC_URL, startHarness, type Harness } from './harness.ts';

/** Chromium from the system's packages, found on PATH; none means the browser tests are skipped. */
function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const candidate = join(dir, name);
      if (dir && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? findChromium();

/** How the suites launch Chromium: headless, no sandbox (root in CI), nothing fetched from elsewhere. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** False when Chromium is there, else why the browser suites are skipped (for `describe`'s `skip`). */
export const NO_BROWSER: string | false = CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium): the browser tests are skipped';
if (NO_BROWSER) console.log(`# ${NO_BROWSER}`);

/** Chromium, headless, reaching nothing but what a test points it at. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM as string,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface BrowserSuite {
  /** The embedded harness the browser talks to. */
  harness(): Harness;
  /**
   * A new page at a mailed link, PUBLIC_URL swapped for the origin the harness listens on; with
   * `javaScript: false`, in a browser context that runs no script.
   */
  open(link: string, options?: { javaScript?: boolean }): Promise<Page>;
}

/**
 * Called inside a `describe` (skipped with NO_BROWSER): before its tests, starts an embedded harness
 * listening on 127.0.0.1 and launches Chromium; after them, closes both.
 */
export function useBrowser(): BrowserSuite {
  let harness: Harness | undefined;
  let browser: Browser | undefined;
  let origin = '';

  before(async () => {
    harness = await startHarness('embedded');
    origin = await harness.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await harness?.close();
  });

  return {
    harness() {
      if (!harness) throw new Error('harness not started');
      return harness;
    },
    async open(link, { javaScript = true } = {}) {
      if (!browser) throw new Error('browser not launched');
      // A context of its own (closed with the browser), so that a page may run without script.
      const context = await browser.newContext({ javaScriptEnabled: javaScript });
      const page = await context.newPage();
      await page.goto(link.replace(PUBLIC_URL, origin));
      return page;
    },
  };
}

/**
 * GATEHOUSE_SCREENSHOTS=<folder> keeps a screenshot of the page at a phone's width and a desktop's, for
 * review (never committed); the page is then back at the size it had.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const folder = process.env.GATEHOUSE_SCREENSHOTS;
  if (!folder) return;
  mkdirSync(folder, { recursive: true });
  const size = page.viewportSize();
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 844 });
    await page.screenshot({ path: join(folder, `${name}-${width}.png`), fullPage: true });
  }
  if (size) await page.setViewportSize(size);
}
