// A portable dump of what the daemon stored, read through its own knex: every row of every table
// in a fixed order, as one JSON string. The same code reads SQLite and PostgreSQL.
import type { Database } from '../../db/connection.js';

/** Knex's own bookkeeping, not the daemon's data. */
const BOOKKEEPING = new Set(['knex_migrations', 'knex_migrations_lock']);
/** Tables a dump must find, so a listing that comes back empty cannot make a check pass. */
const CORE_TABLES = ['users', 'email_tokens', 'sessions', 'mail_outbox'];

/** The daemon's tables, by name. */
export async function tableNames(db: Database): Promise<string[]> {
  const rows: { name: string }[] =
    db.dialect === 'sqlite'
      ? await db.knex('sqlite_master').select('name').where('type', 'table').andWhereNot('name', 'like', 'sqlite_%')
      : await db.knex('pg_catalog.pg_tables').select({ name: 'tablename' }).whereRaw('schemaname = current_schema()');
  const names = rows.map((row) => String(row.name)).filter((name) => !BOOKKEEPING.has(name));
  const missing = CORE_TABLES.filter((table) => !names.includes(table));
  if (missing.length > 0) throw new Error(`the database has no table ${missing.join(', ')} (found ${names.join(', ')})`);
  return names.sort();
}

/**
 * Every row of every table (but those in `except`), each table ordered by all its columns, so
 * the same content always gives the same string.
 */
export async function dumpDatabase(db: Database, options: { except?: string[] } = {}): Promise<string> {
  const dump: Record<string, unknown[]> = {};
  for (const table of await tableNames(db)) {
    if (options.except?.includes(table)) continue;
    const columns = Object.keys(await db.knex(table).columnInfo()).sort();
    dump[table] = await db.knex(table).select('*').orderBy(columns);
  }
  return JSON.stringify(dump);
}
