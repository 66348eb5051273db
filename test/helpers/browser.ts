// A real headless Chromium (Debian's, driven by playwright-core) for tests that look at pages and
// mails as a person would. Offline flags: the test machine has no internet, and a test must not
// depend on it.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go (git-ignored): open them and look before calling a page done. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/', import.meta.url));

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The path of a screenshot named `name` under test/artifacts/, its folder created. */
export async function artifactPath(name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  return `${ARTIFACTS_DIR}${name}`;
}

/** Shows a mail's HTML the way a webmail would: no JavaScript, every request refused and noted; a screenshot to test/artifacts/`screenshot`. */
export async function renderMail(browser: Browser, html: string, screenshot: string): Promise<{ page: Page; requests: string[] }> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 720, height: 900 } });
  const page = await context.newPage();
  const requests: string[] = [];
  await page.route('**/*', (route) => {
    requests.push(route.request().url());
    return route.abort();
  });
  await page.setContent(html);
  await page.screenshot({ path: await artifactPath(screenshot), fullPage: true });
  return { page, requests };
}

export interface WatchedPage {
  page: Page;
  /** Requests that went anywhere but `origin`. */
  foreign: string[];
  /** Console errors and warnings (a CSP refusal shows there). */
  complaints: string[];
  response: Response | null;
}

/** Opens `link` with JavaScript off, noting any request that leaves `origin` and any console error or warning not matching `ignore`. */
export async function openWatched(browser: Browser, link: string, options: { origin: string; viewport: { width: number; height: number }; ignore?: RegExp }): Promise<WatchedPage> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: options.viewport });
  const page = await context.newPage();
  const foreign: string[] = [];
  const complaints: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(options.origin)) foreign.push(request.url());
  });
  page.on('console', (message) => {
    if ((message.type() === 'error' || message.type() === 'warning') && !options.ignore?.test(message.text())) complaints.push(message.text());
  });
  const response = await page.goto(link);
  return { page, foreign, complaints, response };
}
