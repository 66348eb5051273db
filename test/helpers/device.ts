// The device flow from the test's side: ask for a code, poll, and decide it as a signed-in person.
import { DEVICE_CLIENT_ID, DEVICE_GRANT_TYPE } from '../../server/contract/device.js';
import type { TestDaemon } from './daemon.js';
import { api, type Reply } from './http.js';

export const startDevice = (url: string, body: unknown = { client_id: DEVICE_CLIENT_ID }, options: { from?: string; headers?: Record<string, string> } = {}) =>
  api(url, 'POST', '/v1/device/code', body, options);

export const pollDevice = (url: string, deviceCode: string, extra: Record<string, string> = {}) =>
  api(url, 'POST', '/v1/device/token', { grant_type: DEVICE_GRANT_TYPE, client_id: DEVICE_CLIENT_ID, device_code: deviceCode, ...extra });

export const oauthError = (reply: Reply) => (reply.status === 400 && String(reply.headers['content-type']).startsWith('application/json') ? (reply.json?.error as string) : `${reply.status} ${reply.text}`);

export type Decision = 'approve' | 'deny' | 'lookup';
/** What deciding a code answered: done, a code that leads nowhere, or too many tries. */
export type Outcome = 'ok' | 'unknown' | 'rate_limited';

/** The cookie a signed-in browser sends for the session `token` (its name as PUBLIC_URL makes it). */
export const sessionCookie = (td: TestDaemon, token: string) => `${td.config.publicUrl?.startsWith('https:') ? '__Host-' : ''}taskmaster_session=${token}`;

/**
 * Decides a user code on the real /device page, as the person signed in with the session `token`
 * would: the page's form with its CSRF token, from PUBLIC_URL's origin. `address` is the client
 * address the daemon sees (X-Forwarded-For: start the daemon with TRUST_PROXY=1 to use it).
 */
export async function decide(td: TestDaemon, token: string, userCode: string, decision: Decision, address?: string): Promise<Outcome> {
  const origin = new URL(td.config.publicUrl ?? td.url).origin;
  const headers = { cookie: sessionCookie(td, token), ...(address ? { 'x-forwarded-for': address } : {}) };
  const page = await api(td.url, 'GET', '/device', undefined, { headers });
  const csrf = /action="\/device">\s*<input type="hidden" name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (page.status !== 200 || !csrf) throw new Error(`GET /device: ${page.status} ${page.text.slice(0, 300)}`);
  const form = new URLSearchParams({ csrf, user_code: userCode, ...(decision === 'lookup' ? {} : { action: decision }) });
  const reply = await api(td.url, 'POST', '/device', undefined, { raw: form.toString(), headers: { ...headers, origin, 'content-type': 'application/x-www-form-urlencoded' } });
  if (reply.status === 200) return 'ok';
  if (reply.status === 400 && /This code does not work/.test(reply.text)) return 'unknown';
  if (reply.status === 429) return 'rate_limited';
  throw new Error(`POST /device: ${reply.status} ${reply.text.slice(0, 300)}`);
}
