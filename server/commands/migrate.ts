// `taskmasterd migrate`: applies pending migrations and exits (0 done, 1 failed).
import { mkdirSync } from 'node:fs';
import { migrateToLatest, openDatabase, type Database } from '../../db/connection.js';
import type { Config } from '../core/config.js';
import { redact } from '../mail/transports.js';

export async function migrateAndExit(config: Config): Promise<void> {
  let db: Database;
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    db = openDatabase(config.databaseUrl);
  } catch (error) {
    process.stderr.write(`taskmasterd: migrate failed: ${redact(String((error as Error)?.message ?? error), [])}\n`);
    process.exitCode = 1;
    return;
  }
  try {
    const applied = (await migrateToLatest(db)).length;
    process.stdout.write(applied > 0 ? `applied ${applied} migration${applied === 1 ? '' : 's'}; the database is up to date\n` : 'the database is up to date\n');
  } catch (error) {
    process.stderr.write(`taskmasterd: migrate failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
}
