// The device_tokens table (the one module that reads and writes it): the token a login answers
// and the CLI sends with later logins of the same account (OWASP device cookie; SECURITY.md,
// "Lockout"). SHA-256 at rest. State: in the database only.
import type { Knex } from 'knex';
import type { Database } from '../../db/connection.js';
import { sha256Hex } from '../core/secrets.js';

/** The id of this device token when it was handed to this account at an earlier login. */
export async function knownDeviceToken(db: Database, deviceToken: string, userId: string): Promise<number | undefined> {
  const row = await db.knex('device_tokens').where({ token_hash: sha256Hex(deviceToken), user_id: userId }).first('id');
  return row ? Number(row.id) : undefined;
}

/** A known device logged in again; or a new device token for the account. */
export async function rememberDevice(trx: Knex.Transaction, device: { id: number } | { userId: string; deviceToken: string }, now: number): Promise<void> {
  if ('id' in device) await trx('device_tokens').where('id', device.id).update({ last_used_at: now });
  else await trx('device_tokens').insert({ user_id: device.userId, token_hash: sha256Hex(device.deviceToken), created_at: now, last_used_at: now });
}

export async function deleteUserDeviceTokens(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx('device_tokens').where('user_id', userId).delete();
}
