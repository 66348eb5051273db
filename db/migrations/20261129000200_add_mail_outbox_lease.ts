import type { Knex } from 'knex';

// Several daemons share the outbox: a sender claims rows by leasing them until `locked_until`.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (table) => {
    table.bigInteger('locked_until').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (table) => {
    table.dropColumn('locked_until');
  });
}
