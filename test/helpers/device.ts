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

/**
 * Decides a user code as the person signed in with `token` would, from `address`.
 * Interim: through the daemon's own logic on its database, until the /device page lands.
 */
export async function decide(td: TestDaemon, token: string, userCode: string, decision: Decision, address = '127.0.0.1'): Promise<Outcome> {
  const [{ DeviceAuthorizations, UnknownUserCode }, { Throttle }, { HttpError }] = await Promise.all([
    import('../../server/device/authorizations.js'),
    import('../../server/core/throttle.js'),
    import('../../server/core/errors.js'),
  ]);
  const me = await api(td.url, 'GET', '/v1/me', undefined, { token });
  const sessions = await api(td.url, 'GET', '/v1/sessions', undefined, { token });
  const sessionId = (sessions.json.sessions as { id: string; current: boolean }[]).find((session) => session.current)!.id;
  let throttle = throttles.get(td);
  if (!throttle) throttles.set(td, (throttle = new Throttle(td.daemon.db)));
  const device = new DeviceAuthorizations({ db: td.daemon.db, clock: clockOf(td), throttle } as never, undefined as never);
  try {
    await device[decision](userCode, { user: me.json.user, tokenHash: '', sessionId }, { address, userAgent: 'test' });
    return 'ok';
  } catch (error) {
    if (error instanceof UnknownUserCode) return 'unknown';
    if (error instanceof HttpError && error.status === 429) return 'rate_limited';
    throw error;
  }
}
const throttles = new WeakMap<TestDaemon, import('../../server/core/throttle.js').Throttle>();
const clocks = new WeakMap<TestDaemon, () => number>();
/** The clock the daemon was started with, for the interim decide(). */
export function useClock(td: TestDaemon, clock: () => number): void {
  clocks.set(td, clock);
}
const clockOf = (td: TestDaemon) => clocks.get(td) ?? Date.now;
