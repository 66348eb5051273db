// For the tests of the per-daemon session cache (server/sessions/store.ts) across daemon processes:
// how soon a daemon refuses a token ended elsewhere, and how often PostgreSQL read the tables the
// cache stands in front of, as its own statistics count it (whatever process asked).
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { api } from './http.js';

/** What docs/several-daemons.md promises: a token ended on one daemon is refused on every other within this. */
export const REVOCATION_BOUND_MS = 100;

/**
 * Asks `url` GET /v1/me with `token` again and again, with no pause, from the moment it is called
 * until it answers 401 or `boundMs` have passed; asserts the 401 came within `boundMs` (measured to
 * the answer's arrival: a refusal that arrives later fails too) and logs how long it took, e.g.
 * "B refused the token 4.1 ms after the revoke on A". Any answer but 200 or 401 fails at once.
 * Returns the milliseconds.
 */
export async function refusedWithin(
  t: ExecutionContext,
  url: string,
  token: string,
  how: { boundMs: number; daemon: string; after: string },
): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { status } = await api(url, 'GET', '/v1/me', undefined, { token });
    const elapsed = performance.now() - started;
    if (status !== 200 && status !== 401) throw new Error(`${how.daemon} answered GET /v1/me ${status} ${Math.round(elapsed)} ms after ${how.after}`);
    if (status === 401 || elapsed > how.boundMs) {
      const outcome = `${how.daemon} ${status === 401 ? 'refused' : 'still accepted'} the token ${elapsed.toFixed(1)} ms after ${how.after}`;
      t.true(status === 401 && elapsed <= how.boundMs, `${outcome}; the bound is ${how.boundMs} ms`);
      t.log(outcome);
      return elapsed;
    }
  }
}

/**
 * A PostgreSQL backend publishes the scans it counted at the end of a transaction, but at most once
 * a second (PGSTAT_MIN_INTERVAL in src/backend/utils/activity/pgstat.c, PostgreSQL 15 and later);
 * what it holds back goes out with its next transaction a second on or, when it stays idle, after
 * PGSTAT_IDLE_INTERVAL (10 s). Measured here: after a registration, part of the count of `users`
 * arrived 2 s later and the rest 10 s later. So the counts are complete 10 s after the last query;
 * 11 s leaves a margin.
 */
export const STATS_SETTLE_MS = 11_000;

export type Scans = Record<string, number>;

/**
 * How many times PostgreSQL has scanned each table so far (pg_stat_user_tables: index scans plus
 * sequential scans; one lookup by key is one scan, whatever plan it got), as published so far.
 */
export async function tableScans(databaseUrl: string, tables: readonly string[]): Promise<Scans> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // A new connection has no statistics snapshot yet; cleared anyway, so a read is always current.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ relname: string; scans: number }>(
      "SELECT relname, (coalesce(idx_scan, 0) + coalesce(seq_scan, 0))::int AS scans FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = ANY($1)",
      [tables],
    );
    const scans: Scans = {};
    for (const table of tables) {
      const row = rows.find((candidate) => candidate.relname === table);
      if (!row) throw new Error(`no statistics for the table ${table}`);
      scans[table] = row.scans;
    }
    return scans;
  } finally {
    await client.end();
  }
}

/** tableScans once every query sent before this call is in the counts (STATS_SETTLE_MS from now). */
export async function settledTableScans(databaseUrl: string, tables: readonly string[]): Promise<Scans> {
  await new Promise((resolve) => setTimeout(resolve, STATS_SETTLE_MS));
  return tableScans(databaseUrl, tables);
}

/** `after` minus `before`, table by table. */
export function scansBetween(before: Scans, after: Scans): Scans {
  return Object.fromEntries(Object.keys(after).map((table) => [table, after[table]! - (before[table] ?? 0)]));
}
