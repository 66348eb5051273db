// Emailed tokens, looked at without using them: the verification link's page asks before it acts,
// and tells an unknown or expired link at once. State: in the database (read only here); the rules
// that use a token are in server/accounts.ts.
import type { Database } from '../../db/connection.js';
import { sha256Hex } from '../core/secrets.js';

export type TokenLook = 'usable' | 'invalid' | 'expired';

/**
 * What a token is now: unknown (or used and past its time) is 'invalid', unused and past its time
 * 'expired', anything else 'usable' (using it decides the rest, "already active" included).
 */
export async function lookAtEmailToken(db: Database, token: string, now: number): Promise<TokenLook> {
  // Only the tokens the verify link uses: a reset token pasted there is as unknown as a made-up one.
  const row = await db
    .knex('email_tokens')
    .where('token_hash', sha256Hex(token))
    .whereIn('purpose', ['verify', 'email_change'])
    .first('used_at', 'expires_at');
  if (!row) return 'invalid';
  if (Number(row.expires_at) > now) return 'usable';
  return row.used_at === null ? 'expired' : 'invalid';
}
