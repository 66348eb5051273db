import type { Knex } from 'knex';

// Device tokens (OWASP's "device cookies"): handed out at a successful login and shown again at
// the next, so a known device is not held by an account lock that strangers caused.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('device_tokens', (table) => {
    table.increments('id').primary();
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('token_hash', 64).notNullable().unique({ indexName: 'device_tokens_token_hash_unique' });
    table.bigInteger('created_at').notNullable();
    table.bigInteger('last_used_at').notNullable();
    table.index(['user_id'], 'device_tokens_user');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('device_tokens');
}
