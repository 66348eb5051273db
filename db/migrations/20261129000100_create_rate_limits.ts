import type { Knex } from 'knex';

// The table rate-limiter-flexible's PostgreSQL and SQLite stores read and write (their own
// CREATE TABLE, in portable form): key, points spent, expiry in epoch ms (null: never).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (table) => {
    table.string('key', 255).primary();
    table.integer('points').notNullable().defaultTo(0);
    table.bigInteger('expire').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_limits');
}
