/**
 * Proof by eye: starts the sandbox on free ports, installs the bot for the Playground's user (Alex),
 * sends Alex a notification through the queue, then opens the Playground page in headless
 * Chromium (Debian's `chromium`, driven by playwright-core) and saves a screenshot of the 1:1 chat
 * showing the DM.
 */
import { existsSync } from 'node:fs';
import type { Locator } from 'playwright-core';
import { enqueueNotification } from '../../shared/jobs/producer.js';
import { freeSandboxPorts, PLAYGROUND_TENANT, storageConnection } from './settings.js';
import { startSandbox } from './stack.js';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Flags for a headless Chromium that touches nothing outside this machine. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Why the browser check cannot run here, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `${CHROMIUM_PATH} not found (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export interface ScreenshotResult {
  /** The text of the DM the screenshot shows. */
  text: string;
  /** The personal chat's entry in the page's chat list (name, time, latest message). */
  chatPreview: string;
  /** Text of the open 1:1 chat as the page rendered it (without the log panel). */
  chatText: string;
}

export async function screenshotDm(
  root: string,
  outFile: string,
  text = 'Build 1432 is green: all 318 tests passed. Release notes: https://example.com/releases/1432',
): Promise<ScreenshotResult> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const { chromium } = await import('playwright-core');

  const ports = await freeSandboxPorts();
  const sandbox = await startSandbox({ root, ports, appHost: 'local' });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const pg = sandbox.playground;
    // The page is opened first and the DM arrives while Alex looks at it, as in Teams. (Messages sent
    // before the page loads reach it as soon as it connects, and one that lands before the page has
    // its chat list loaded breaks the page's chat list for good: it never shows a later message.)
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(pg.url);
    const chat = page.getByRole('treeitem', { name: 'Personal Chat' });
    await chat.waitFor();
    // Loading the page installs the bot in Alex's personal chat: the welcome shows once the bot stored
    // Alex. The chat list is rendered before it wires up clicks: retry until the chat opens.
    await untilVisible(page.getByText('Hi Alex Wilber!').first(), () => chat.click());
    await enqueueNotification(
      { tenantId: PLAYGROUND_TENANT, recipients: [{ upn: 'alexw@example.com' }], message: { text } },
      { connection: storageConnection(ports) },
    );
    const message = page.getByText(text, { exact: true }).first();
    await untilVisible(message);
    // The chat list's preview catches up with the open chat a little later: wait for it (the test then
    // checks what it shows), then let the chat finish laying out before the picture.
    await chat
      .filter({ hasText: text.slice(0, 12) })
      .waitFor({ timeout: 10_000 })
      .catch(() => undefined);
    await page.waitForTimeout(1_000);
    await page.screenshot({ path: outFile });
    const chatPreview = await chat.innerText();
    // The chat pane is the nearest ancestor of the message that also holds the welcome.
    const chatText = await message.evaluate((node) => {
      // (No DOM types in this Node project: the little that is used, spelled out.)
      type El = { innerText: string; parentElement: El | null };
      let el: El | null = node as unknown as El;
      while (el && !el.innerText.includes('Hi Alex Wilber!')) el = el.parentElement;
      return el?.innerText ?? '';
    });
    return { text, chatPreview, chatText };
  } finally {
    await browser.close();
    await sandbox.stop();
  }
}

/** Waits (up to a minute: Chromium is slow on a busy machine) until `target` shows, doing `nudge` between looks. */
async function untilVisible(target: Locator, nudge?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await nudge?.();
    try {
      await target.waitFor({ state: 'visible', timeout: 2_000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}
