import type { Knex } from 'knex';

// Access tokens for scripts and CI: scoped, expiring, optionally bound to addresses; SHA-256 at rest.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('access_tokens', (table) => {
    table.string('id', 36).primary(); // public id, never the token
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('name', 64).notNullable();
    table.string('token_hash', 64).notNullable().unique({ indexName: 'access_tokens_token_hash_unique' });
    table.string('prefix', 8).notNullable();
    table.string('scopes', 200).notNullable(); // space-separated, as OAuth writes scopes
    table.text('allowed_cidrs').nullable(); // space-separated CIDRs; null: any address
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.bigInteger('last_used_at').nullable();
    table.string('last_used_address', 64).nullable();
    // Set by the daemon that queued the "expires in 7 days" mail: one mail, whichever daemon runs first.
    table.bigInteger('expiry_notice_at').nullable();
    // One name per account: a new token takes the name of an expired one by replacing it.
    table.unique(['user_id', 'name'], { indexName: 'access_tokens_user_name_unique' });
    table.index(['expires_at'], 'access_tokens_expires');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('access_tokens');
}
