// The knex connection factory. Dialect-specific setup lives here and nowhere else: SQLite is the
// embedded default for one machine, PostgreSQL the backend for several daemons.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from './migrations/index.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  /** The connection string, for the one connection that LISTENs (PostgreSQL only). */
  url: string;
  close(): Promise<void>;
}

/** `sqlite://PATH` (relative or absolute) or `postgres://…` / `postgresql://…` (sslmode in the query is honoured by pg). */
export function parseDatabaseUrl(url: string): { dialect: Dialect; target: string } {
  if (url.startsWith('sqlite://')) {
    const path = url.slice('sqlite://'.length);
    if (path === '') throw new Error('DATABASE_URL sqlite:// needs a file path, e.g. sqlite://./data/taskmaster.sqlite3');
    return { dialect: 'sqlite', target: resolve(path) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { dialect: 'postgres', target: url };
  throw new Error(`DATABASE_URL must start with sqlite:// or postgres:// (got "${url.split(':')[0]}:…")`);
}

// Our bigint columns hold epoch milliseconds (well inside 2^53): read them as numbers, as SQLite does.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** How long a query waits for a pooled PostgreSQL connection before it fails (and the request answers 503). */
const ACQUIRE_TIMEOUT_MS = 5_000;

/**
 * knex's own warnings go to stderr, never stdout (a command's --json is there); a failed connection
 * is left out, since the caller says it in its own words.
 */
const log = {
  warn(message: unknown) {
    if (!/^Acquire connection error/.test(String(message))) process.stderr.write(`knex: ${String(message)}\n`);
  },
};

export function openDatabase(url: string): Database {
  const { dialect, target } = parseDatabaseUrl(url);
  if (dialect === 'postgres') {
    const instance = knex({ client: 'pg', connection: target, pool: { min: 0, max: 10 }, acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS, log });
    return { dialect, knex: instance, url: target, close: () => instance.destroy() };
  }
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const instance = knex({
    client: 'sqlite3',
    connection: { filename: target },
    log,
    useNullAsDefault: true,
    // A query waits at most this long for the one connection, instead of knex's 60 s.
    acquireConnectionTimeout: 10_000,
    pool: {
      min: 1,
      max: 1,
      // WAL lets readers run beside the writer; busy_timeout makes a second writer queue, not fail.
      afterCreate(connection: { exec(sql: string, done: (error: Error | null) => void): void }, done: (error: Error | null, connection: unknown) => void) {
        connection.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;', (error) =>
          done(error, connection),
        );
      },
    },
  });
  return { dialect, knex: instance, url, close: () => instance.destroy() };
}

// Any number: the same for every daemon, so they queue on it.
const MIGRATION_LOCK_KEY = 7_305_641;

/**
 * Applies pending migrations. Several PostgreSQL daemons may start at once on an empty database:
 * knex's own lock refuses the losers instead of making them wait, and its bookkeeping tables can
 * race into existence, so the daemons first queue on an advisory lock held by one connection.
 */
/** Returns the names of the migrations it applied. */
export async function migrateToLatest(db: Database): Promise<string[]> {
  if (db.dialect === 'sqlite') {
    const [, applied] = (await db.knex.migrate.latest({ migrationSource })) as [number, string[]];
    return applied;
  }
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await db.knex.migrate.latest({ migrationSource })) as [number, string[]];
    return applied;
  } finally {
    await client.end().catch(() => undefined); // ending the session releases the lock
  }
}

/**
 * The migrations this build has that the database has not applied, read from knex's own table
 * without touching it (knex's migrate.list would create the table on an empty database). Rejects
 * when the database does not answer; every migration is pending when the table is missing.
 */
export async function pendingMigrations(db: Database): Promise<string[]> {
  const known = await migrationSource.getMigrations([]);
  if (!(await db.knex.schema.hasTable('knex_migrations'))) return known;
  const applied = new Set((await db.knex('knex_migrations').select('name')).map((row: { name: string }) => String(row.name)));
  return known.filter((name) => !applied.has(name));
}

/** True when `error` is a unique-constraint violation on a column whose name contains `column`. */
export function isUniqueViolation(db: Database, error: unknown, column: string): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, message, constraint } = error as { code?: string; message?: string; constraint?: string };
  if (db.dialect === 'postgres') return code === '23505' && (constraint ?? '').includes(column);
  return code === 'SQLITE_CONSTRAINT' && /UNIQUE/.test(message ?? '') && (message ?? '').includes(column);
}

/** True when `error` is a foreign-key refusal (the referenced row is gone). */
export function isForeignKeyViolation(db: Database, error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, message } = error as { code?: string; message?: string };
  if (db.dialect === 'postgres') return code === '23503';
  return code === 'SQLITE_CONSTRAINT' && /FOREIGN KEY/i.test(message ?? '');
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'SQLITE_CANTOPEN', 'SQLITE_IOERR']);

/**
 * True when `error` says the database cannot be reached (down, restarting, pool starved), as
 * opposed to a query that is wrong: the request answers 503 and may be retried.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, name, message } = error as { code?: string; name?: string; message?: string };
  if (name === 'KnexTimeoutError') return true;
  if (code && UNREACHABLE_CODES.has(code)) return true;
  // SQLSTATE class 08 (connection exception) and 57P (operator intervention: shutdown, restart).
  if (code && (/^08/.test(code) || /^57P0[1-3]$/.test(code))) return true;
  return /Connection terminated|connection ended|Client has encountered a connection error|not queryable/i.test(message ?? '');
}

/**
 * `SELECT … FOR UPDATE SKIP LOCKED` where the database has it (PostgreSQL), so several daemons
 * claim different rows. SQLite has one writer at a time, so a plain select in its transaction is enough.
 */
export function skipLocked<T extends Knex.QueryBuilder>(db: Database, query: T): T {
  return db.dialect === 'postgres' ? (query.forUpdate().skipLocked() as T) : query;
}

/** The database for a message: its file, or its host and name, never its password. */
export function databaseLabel(url: string): string {
  if (url.startsWith('sqlite://')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'in DATABASE_URL';
  }
}

/** Closes the pool, waiting at most `ms`: a connection attempt to a server that never answers must not hold up the exit. */
export async function closeWithin(db: Database, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([db.close().catch(() => undefined), deadline]);
  clearTimeout(timer);
}
