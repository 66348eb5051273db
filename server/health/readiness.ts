// Readiness, for a load balancer (GET /readyz): whether this daemon should get traffic now. Unlike
// liveness (/healthz: the process answers and so does its database), it also holds the daemon
// out while the database lacks migrations this build needs, and, on PostgreSQL, while its LISTEN
// connection is down: then revocations from other daemons do not reach it, and although it stays
// correct (its caches are off until the connection is back, server/sessions/cache.ts), it serves
// every request from the database. State: none here; the route reuses an answer for a second.
import { pendingMigrations, type Database } from '../../db/connection.js';

/** How long the database may take to answer before the daemon counts as not ready. */
export const READY_TIMEOUT_MS = 2_000;

export type Readiness = { ready: true } | { ready: false; reasons: string[] };

export async function readiness(db: Database, invalidations: { readonly live: boolean }): Promise<Readiness> {
  const reasons: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), READY_TIMEOUT_MS)));
  try {
    const pending = await Promise.race([pendingMigrations(db), late]);
    if (pending === 'late') reasons.push(`the database did not answer within ${READY_TIMEOUT_MS / 1000} seconds`);
    else if (pending.length > 0) reasons.push(`the database lacks ${pending.length} migration${pending.length === 1 ? '' : 's'} (${pending.join(', ')}): run \`taskmasterd migrate\``);
  } catch {
    reasons.push('the database is not reachable');
  } finally {
    clearTimeout(timer);
  }
  if (!invalidations.live) {
    reasons.push(
      db.dialect === 'postgres'
        ? 'the LISTEN connection to PostgreSQL (cache invalidations from other daemons) is down; it reconnects by itself'
        : 'the watch for other processes\' changes to the SQLite file (taskmasterd users) is failing; the caches are off until it answers again',
    );
  }
  return reasons.length === 0 ? { ready: true } : { ready: false, reasons };
}
