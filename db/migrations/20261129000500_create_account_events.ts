import type { Knex } from 'knex';

// The account's security events (`GET /v1/me/events`), kept 90 days; they go with the account.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_events', (table) => {
    table.increments('id').primary();
    table.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.string('type', 32).notNullable();
    table.bigInteger('at').notNullable();
    table.string('address', 64).nullable();
    table.string('user_agent', 256).nullable();
    table.index(['user_id', 'at'], 'account_events_user_at');
    table.index(['at'], 'account_events_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('account_events');
}
