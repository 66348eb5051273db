import type { Knex } from 'knex';

// Operating accounts (`taskmasterd users`): `users.disabled_at` says an operator disabled the
// account (null: enabled), and `account_events.actor` marks the events an operator caused
// ('operator'; null: the account's own requests).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (table) => {
    table.bigInteger('disabled_at').nullable();
  });
  await knex.schema.alterTable('account_events', (table) => {
    table.string('actor', 16).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('account_events', (table) => {
    table.dropColumn('actor');
  });
  await knex.schema.alterTable('users', (table) => {
    table.dropColumn('disabled_at');
  });
}
