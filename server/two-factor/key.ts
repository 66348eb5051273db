// Which key encrypts the TOTP secrets. The operator's TOTP_ENCRYPTION_KEY(_FILE) when given. Else,
// on the embedded default (SQLite, one machine), a key file made in the data folder at the first
// start, kept beside the database it belongs to. On PostgreSQL every daemon must be given the same
// key: without one, two-factor enrolment answers 503 until it is; and a daemon refuses to start
// without a key, or with another key, once any account has two-factor on (it could not check
// their codes, or would check them against garbage).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Database } from '../../db/connection.js';
import { twoFactorAccounts } from '../accounts/users.js';
import type { Config } from '../core/config.js';
import { decryptSecret } from './cipher.js';

export const KEY_FILE = 'totp-encryption.key';

export class TotpKeyError extends Error {}

export async function resolveTotpKey(config: Config, db: Database, log: Logger): Promise<Buffer | undefined> {
  let key = config.totpKey;
  const inUse = (await twoFactorAccounts(db)) > 0;
  if (!key && db.dialect === 'sqlite') key = keyFileInDataDir(config.dataDir, log, inUse);
  if (!key) {
    if (inUse) {
      throw new TotpKeyError('accounts have two-factor on, and TOTP_ENCRYPTION_KEY is not set: give every daemon the key their secrets were encrypted with');
    }
    log.warn('TOTP_ENCRYPTION_KEY is not set: two-factor enrolment answers 503 until every daemon is given the same key (64 hex characters, e.g. from `openssl rand -hex 32`)');
    return undefined;
  }
  // One secret that does not decrypt means the key is not theirs.
  const sample = await db.knex('totp_credentials').whereNotNull('confirmed_at').first('user_id', 'secret_encrypted');
  if (sample && decryptSecret(key, String(sample.user_id), String(sample.secret_encrypted)) === undefined) {
    throw new TotpKeyError('TOTP_ENCRYPTION_KEY is not the key the two-factor secrets were encrypted with: give every daemon the same key');
  }
  return key;
}

function keyFileInDataDir(dataDir: string, log: Logger, inUse: boolean): Buffer {
  const path = join(dataDir, KEY_FILE);
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new TotpKeyError(`cannot read ${path}: ${(error as Error).message}`);
  }
  // A new key could not decrypt the secrets already stored: say what is missing instead.
  if (inUse) throw new TotpKeyError(`${path} is missing, and accounts have two-factor on: put back the key file they were encrypted with (or give it as TOTP_ENCRYPTION_KEY)`);
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  log.info({ keyFile: path }, `created the two-factor encryption key ${path}: back it up with the database (without it, accounts with two-factor cannot log in)`);
  return key;
}
