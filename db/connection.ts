// The knex connection factory. Dialect-specific setup lives here and nowhere else.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knex, { type Knex } from 'knex';
import { migrationSource } from './migrations/index.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  knex: Knex;
  dialect: Dialect;
}

/** `sqlite://PATH` (relative or absolute) or `postgres://…`. */
export function parseDatabaseUrl(url: string): { dialect: Dialect; target: string } {
  if (url.startsWith('sqlite://')) {
    const path = url.slice('sqlite://'.length);
    if (path === '') throw new Error('DATABASE_URL sqlite:// needs a file path, e.g. sqlite://./data/taskmaster.sqlite3');
    return { dialect: 'sqlite', target: resolve(path) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { dialect: 'postgres', target: url };
  throw new Error(`DATABASE_URL must start with sqlite:// or postgres:// (got "${url.split(':')[0]}:…")`);
}

export function openDatabase(url: string): Database {
  const { dialect, target } = parseDatabaseUrl(url);
  if (dialect === 'postgres') {
    return { dialect, knex: knex({ client: 'pg', connection: target, pool: { min: 0, max: 10 } }) };
  }
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const instance = knex({
    client: 'sqlite3',
    connection: { filename: target },
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
  return { dialect, knex: instance };
}

export async function migrateToLatest(db: Database): Promise<void> {
  await db.knex.migrate.latest({ migrationSource });
}

/** True when `error` is a unique-constraint violation on a column whose name contains `column`. */
export function isUniqueViolation(db: Database, error: unknown, column: string): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, message, constraint } = error as { code?: string; message?: string; constraint?: string };
  if (db.dialect === 'postgres') return code === '23505' && (constraint ?? '').includes(column);
  return code === 'SQLITE_CONSTRAINT' && /UNIQUE/.test(message ?? '') && (message ?? '').includes(column);
}
