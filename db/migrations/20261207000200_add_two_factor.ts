import type { Knex } from 'knex';

// Two-factor authentication: the TOTP secret (encrypted at rest) and its last accepted time step,
// the recovery codes (a lookup key and a slow hash each), and the login challenges between the
// password and the code. `users.two_factor_at` says it is on (so the cached user carries it).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (table) => {
    table.bigInteger('two_factor_at').nullable();
  });
  await knex.schema.createTable('totp_credentials', (table) => {
    table.string('user_id', 36).primary().references('id').inTable('users').onDelete('CASCADE');
    table.text('secret_encrypted').notNullable(); // AES-256-GCM: iv.tag.ciphertext, base64url
    table.bigInteger('created_at').notNullable();
    table.bigInteger('confirmed_at').nullable(); // null: an enrolment waiting for its first code
    // RFC 6238 §5.2: a step once accepted is never accepted again (and none before it).
    table.bigInteger('last_step').nullable();
  });
  await knex.schema.createTable('recovery_codes', (table) => {
    table.increments('id').primary();
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('lookup', 8).notNullable(); // the code's first characters: finds the row, proves nothing
    table.string('code_hash', 100).notNullable(); // bcrypt of the whole code
    table.bigInteger('created_at').notNullable();
    table.bigInteger('used_at').nullable();
    table.unique(['user_id', 'lookup'], { indexName: 'recovery_codes_user_lookup_unique' });
  });
  await knex.schema.createTable('login_challenges', (table) => {
    table.string('challenge_hash', 64).primary();
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.integer('failures').notNullable().defaultTo(0);
    table.bigInteger('used_at').nullable();
    table.index(['expires_at'], 'login_challenges_expires');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('login_challenges');
  await knex.schema.dropTable('recovery_codes');
  await knex.schema.dropTable('totp_credentials');
  await knex.schema.alterTable('users', (table) => {
    table.dropColumn('two_factor_at');
  });
}
