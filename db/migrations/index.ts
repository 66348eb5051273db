// Migrations are listed in code rather than read from a folder, so they survive bundling
// and run the same from source, from dist/, and under tests.
import type { Knex } from 'knex';
import * as createUsers from './20261124000100_create_users.js';
import * as createEmailTokens from './20261124000200_create_email_tokens.js';
import * as createSessions from './20261124000300_create_sessions.js';
import * as createMailOutbox from './20261124000400_create_mail_outbox.js';
import * as createRateLimits from './20261129000100_create_rate_limits.js';
import * as addMailOutboxLease from './20261129000200_add_mail_outbox_lease.js';
import * as createDeviceTokens from './20261129000300_create_device_tokens.js';
import * as addSessionMetadata from './20261129000400_add_session_metadata.js';
import * as createAccountEvents from './20261129000500_create_account_events.js';
import * as createAccessTokens from './20261207000100_create_access_tokens.js';
import * as addTwoFactor from './20261207000200_add_two_factor.js';
import * as addOperatorColumns from './20261209000100_add_operator_columns.js';
import * as createDeviceAuthorizations from './20261214000500_create_device_authorizations.js';
import * as createPasskeys from './20261216000100_create_passkeys.js';

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };

const migrations: Record<string, Migration> = {
  '20261124000100_create_users': createUsers,
  '20261124000200_create_email_tokens': createEmailTokens,
  '20261124000300_create_sessions': createSessions,
  '20261124000400_create_mail_outbox': createMailOutbox,
  '20261129000100_create_rate_limits': createRateLimits,
  '20261129000200_add_mail_outbox_lease': addMailOutboxLease,
  '20261129000300_create_device_tokens': createDeviceTokens,
  '20261129000400_add_session_metadata': addSessionMetadata,
  '20261129000500_create_account_events': createAccountEvents,
  '20261207000100_create_access_tokens': createAccessTokens,
  '20261207000200_add_two_factor': addTwoFactor,
  '20261209000100_add_operator_columns': addOperatorColumns,
  '20261214000500_create_device_authorizations': createDeviceAuthorizations,
  '20261216000100_create_passkeys': createPasskeys,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
