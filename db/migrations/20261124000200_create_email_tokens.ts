import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('email_tokens', (table) => {
    table.increments('id').primary();
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('purpose', 16).notNullable(); // 'verify' | 'email_change'
    table.string('email', 254).notNullable(); // the address this token proves
    table.string('token_hash', 64).notNullable().unique({ indexName: 'email_tokens_token_hash_unique' });
    table.bigInteger('expires_at').notNullable();
    table.bigInteger('used_at').nullable();
    table.bigInteger('created_at').notNullable();
    table.index(['user_id', 'purpose'], 'email_tokens_user_purpose');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('email_tokens');
}
