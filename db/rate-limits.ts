// The rate limiter's store: rate-limiter-flexible's own database stores, in the `rate_limits`
// table the migrations create, so counts and blocks are shared by every daemon and survive a restart.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from './connection.js';

export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
}

const TABLE = 'rate_limits';
const sweeperStarted = new WeakSet<Database>();

/**
 * The library's SQLite store, with its one write sent through knex as a single statement.
 * Its own write wraps the upsert in a SAVEPOINT on a raw pooled connection that it hands back to
 * the pool before the statements have run, and its error path leaves the savepoint's transaction
 * open: beside knex's transactions on the one SQLite connection, that interleaves or holds the
 * write lock for good (seen as every write waiting out busy_timeout). One upsert statement is
 * atomic by itself and queues behind knex's transactions like any other query.
 */
/**
 * Keys are stored as a SHA-256 of what the throttle passes (an email and an address, say): the
 * column holds 255 characters and an email alone may have 254 (on PostgreSQL a longer key fails, and
 * the library then silently falls back to its in-memory twin), and the table then names nobody.
 */
function hashedKey(key: string | number): string {
  return createHash('sha256').update(String(key)).digest('hex');
}

class PostgresStore extends RateLimiterPostgres {
  override getKey(key: string | number): string {
    return super.getKey(hashedKey(key));
  }
}

class SQLiteStore extends RateLimiterSQLite {
  override getKey(key: string | number): string {
    return super.getKey(hashedKey(key));
  }

  async _upsertTransaction(rlKey: string, points: number, msDuration: number, forceExpire: boolean): Promise<{ points: number; expire: number | null }> {
    const now = Date.now();
    const newExpire = msDuration > 0 ? now + msDuration : null;
    const sql = forceExpire
      ? `INSERT OR REPLACE INTO ${TABLE} (key, points, expire) VALUES (?, ?, ?) RETURNING points, expire`
      : `INSERT INTO ${TABLE} (key, points, expire) VALUES (?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET
           points = CASE WHEN expire IS NULL OR expire > ? THEN points + excluded.points ELSE excluded.points END,
           expire = CASE WHEN expire IS NULL OR expire > ? THEN expire ELSE excluded.expire END
         RETURNING points, expire`;
    const params = forceExpire ? [rlKey, points, newExpire] : [rlKey, points, newExpire, now, now];
    const rows = (await (this as unknown as { client: Knex }).client.raw(sql, params)) as { points: number; expire: number | null }[];
    return rows[0]!;
  }
}

/**
 * A limiter kept in the database, insured by an in-memory twin that answers while the database
 * is unreachable (a daemon then limits on its own rather than not at all).
 */
export function databaseLimiter(db: Database, options: LimiterOptions): RateLimiterAbstract {
  const insuranceLimiter = new RateLimiterMemory(options);
  // One limiter per database sweeps rows expired over an hour ago, for the whole table.
  const clearExpiredByTimeout = !sweeperStarted.has(db);
  sweeperStarted.add(db);
  const common = { ...options, storeClient: db.knex, storeType: 'knex', tableName: TABLE, tableCreated: true, clearExpiredByTimeout, insuranceLimiter };
  return db.dialect === 'postgres' ? new PostgresStore(common) : new SQLiteStore(common);
}
