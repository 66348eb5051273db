// What every service needs, injected once by server/main.ts (tests inject their own clock).
import type { Logger } from 'pino';
import type { InvalidationChannel } from '../../db/channel.js';
import type { Database } from '../../db/connection.js';
import type { RandomToken } from '../core/secrets.js';
import type { Throttle } from '../core/throttle.js';
import type { User } from '../contract/api.js';

export interface ServiceDeps {
  db: Database;
  clock: () => number;
  random: RandomToken;
  bcryptCost: number;
  /** Base of links in emails; known only once the socket is bound when port 0 was asked. */
  publicUrl: () => string;
  /** Wakes the mail sender after a mail was queued. */
  mailQueued: () => void;
  throttle: Throttle;
  /** Tells the other daemons' caches what changed (see server/sessions.ts). */
  invalidations: InvalidationChannel;
  /** SUPPORT_EMAIL: named in security notices only when the operator set one. */
  supportEmail?: string | undefined;
  log: Logger;
}

export interface UserRow {
  id: string;
  username: string;
  email: string;
  email_verified_at: number | string | null;
  pending_email: string | null;
  created_at: number | string;
  updated_at: number | string;
  password_hash: string;
}

const USER_COLUMNS = ['id', 'username', 'email', 'email_verified_at', 'pending_email', 'created_at', 'updated_at', 'password_hash'];

/** The user row by id, or by (normalized) email; undefined when there is none. */
export function findUser(db: Database, by: { id: string } | { emailKey: string }): Promise<UserRow | undefined> {
  const query = db.knex('users').select(USER_COLUMNS);
  return ('id' in by ? query.where('id', by.id) : query.where('email_normalized', by.emailKey)).first<UserRow | undefined>();
}

// PostgreSQL returns bigint as a string; Number() keeps both dialects alike.
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified_at !== null,
    pendingEmail: row.pending_email,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
  };
}

export const EMAIL_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;
