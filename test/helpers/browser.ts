/**
 * Debian's Chromium, headless, driven by puppeteer-core (which never downloads a browser). Tests run
 * as root in CI, where Chromium's sandbox cannot start: hence `--no-sandbox`, acceptable for a browser
 * that only ever opens the broker under test on loopback.
 *
 * `openPage()` counts what a page must not do: JavaScript errors (uncaught exceptions and console
 * errors, CSP violations included) and requests to any origin but the gateway's.
 */
import fs from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export class BrowserMissingError extends Error {
  override name = 'BrowserMissingError';
}

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new BrowserMissingError(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`);
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  page: Page;
  /** Uncaught exceptions, console errors and CSP violations, as text. */
  errors: string[];
  /** Every request URL whose origin is not `origin`. */
  foreign: string[];
  /** Bytes received over the network for each response, by URL (encodedDataLength). */
  bytes: Map<string, number>;
}

export async function openPage(browser: Browser, origin: string, options: { width?: number; height?: number; dark?: boolean } = {}): Promise<WatchedPage> {
  const page = await browser.newPage();
  await page.setViewport({ width: options.width ?? 1100, height: options.height ?? 900 });
  if (options.dark) await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  const errors: string[] = [];
  const foreign: string[] = [];
  const bytes = new Map<string, number>();
  page.on('pageerror', (err) => errors.push(`pageerror: ${String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(`${origin}/`) && url !== origin) foreign.push(url);
  });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => {
    const url = urls.get(e.requestId);
    if (url !== undefined) bytes.set(url, (bytes.get(url) ?? 0) + e.encodedDataLength);
  });
  return { page, errors, foreign, bytes };
}
