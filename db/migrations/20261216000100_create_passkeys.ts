import type { Knex } from 'knex';

// Passkeys (WebAuthn): the account's credentials, and the ceremonies' challenges. A challenge is kept
// as its SHA-256, with what it is for and (for a registration) whose it is; it is deleted when used,
// so a challenge works once on whichever daemon gets the answer, and for 5 minutes at most.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('passkey_credentials', (table) => {
    // The public id the API and the pages use; the credential id is the authenticator's.
    table.string('id', 36).primary();
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    // base64url of the credential id (at most 1023 bytes: 1364 characters).
    table.string('credential_id', 1400).notNullable().unique({ indexName: 'passkey_credentials_credential_id_unique' });
    // base64url of the COSE public key.
    table.text('public_key').notNullable();
    table.bigInteger('counter').notNullable().defaultTo(0);
    // Space-separated (usb nfc ble internal hybrid …), as the browser reported them; null when it did not.
    table.string('transports', 200).nullable();
    table.boolean('backup_eligible').notNullable().defaultTo(false);
    table.boolean('backup_state').notNullable().defaultTo(false);
    table.string('aaguid', 36).nullable();
    table.string('name', 64).notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('last_used_at').nullable();
    table.index(['user_id'], 'passkey_credentials_user');
  });
  await knex.schema.createTable('webauthn_challenges', (table) => {
    table.string('challenge_hash', 64).primary();
    table.string('purpose', 16).notNullable(); // registration, authentication
    table.string('user_id', 36).nullable().references('id').inTable('users').onDelete('CASCADE');
    table.bigInteger('expires_at').notNullable();
    table.index(['expires_at'], 'webauthn_challenges_expires');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webauthn_challenges');
  await knex.schema.dropTable('passkey_credentials');
}
