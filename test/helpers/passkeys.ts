// Passkeys in tests: a daemon whose PUBLIC_URL is http://localhost:PORT (WebAuthn refuses an IP
// address as relying party id, and localhost is a secure context), a Chromium page with a virtual
// authenticator (the DevTools protocol's WebAuthn domain), and a client that posts a captured
// answer to a daemon's ceremony endpoints as another browser would (its own CSRF cookie and token).
import { createServer } from 'node:net';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { request } from 'undici';
import type { StartOptions } from '../../server/main.js';
import type { SmtpReceiver } from './smtp.js';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { checkAgainstDocument } from './http.js';

export const PASSKEY_ADDED_SUBJECT = /^A passkey was added to your TaskMaster account: /;
export const PASSKEY_REMOVED_SUBJECT = /^A passkey was removed from your TaskMaster account: /;

/** A port free now on 127.0.0.1 (PUBLIC_URL must name it before the daemon binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The daemon on 127.0.0.1:PORT with PUBLIC_URL `http://<host>:PORT` (localhost unless said). */
export async function startPasskeyDaemon(options: StartOptions & { env?: Record<string, string>; dataDir?: string; smtp?: SmtpReceiver; host?: string } = {}): Promise<TestDaemon> {
  const port = await freePort();
  const publicUrl = `http://${options.host ?? 'localhost'}:${port}`;
  const td = await startTestDaemon({ ...options, env: { ...options.env, PORT: String(port), PUBLIC_URL: publicUrl } });
  return { ...td, url: publicUrl };
}

export interface Authenticator {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  /** Console errors (a CSP refusal shows there). */
  complaints: string[];
}

/** A browser context with JavaScript on and one virtual platform authenticator (ctap2, internal, resident keys, user verification); conditional UI off unless asked. */
export async function withAuthenticator(browser: Browser, options: { isUserVerified?: boolean; viewport?: { width: number; height: number }; conditionalUI?: boolean } = {}): Promise<Authenticator> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  // Chromium's virtual authenticator answers a conditional request (the email field's autofill) at
  // once, signing in as the page loads: a test of the button says the browser has no autofill.
  if (!options.conditionalUI) await context.addInitScript({ content: "Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', { value: async () => false });" });
  const page = await context.newPage();
  const complaints: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) complaints.push(message.text());
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: options.isUserVerified ?? true, automaticPresenceSimulation: true },
  });
  return { context, page, cdp, authenticatorId, complaints };
}

/** The credentials the virtual authenticator holds. */
export async function credentialsOf(authenticator: Authenticator): Promise<{ credentialId: string; isResidentCredential: boolean; rpId?: string; signCount: number; userHandle?: string }[]> {
  const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId });
  return credentials;
}

/** Another browser's view of a daemon's ceremony endpoints: its own CSRF cookie, the page's tokens, JSON posts with an Origin. */
export class CeremonyClient {
  private cookie = '';
  tokens: Record<string, string> = {};

  constructor(
    readonly base: string,
    readonly origin: string = new URL(base).origin,
  ) {}

  /** Opens /login (setting the CSRF cookie) and keeps its passkey tokens. */
  async openLogin(): Promise<void> {
    const response = await request(new URL('/login', this.base), { headers: this.cookie ? { cookie: this.cookie } : {} });
    const text = await response.body.text();
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = line.split(';')[0]!;
      if (!/=$/.test(pair)) this.cookie = pair;
    }
    this.tokens = {
      options: /data-options-csrf="([^"]+)"/.exec(text)?.[1] ?? '',
      verify: /data-verify-csrf="([^"]+)"/.exec(text)?.[1] ?? '',
    };
  }

  async post(path: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown>; setCookies: string[]; headers: Record<string, string | string[] | undefined> }> {
    const response = await request(new URL(path, this.base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: this.origin, ...(this.cookie ? { cookie: this.cookie } : {}) },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    checkAgainstDocument('POST', path, { status: response.statusCode, headers: response.headers, text, json });
    const setCookie = response.headers['set-cookie'];
    return { status: response.statusCode, json, setCookies: Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [], headers: response.headers };
  }
}
