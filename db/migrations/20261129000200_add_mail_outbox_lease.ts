import type { Knex } from 'knex';

// Several daemons share the outbox: a sender claims rows by leasing them until `locked_until`, and
// names itself in `locked_by`, so it renews or releases only its own lease (a stalled sender cannot
// extend or free the lease of the sender that took the row over).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (table) => {
    table.bigInteger('locked_until').nullable();
    table.string('locked_by', 36).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (table) => {
    table.dropColumn('locked_until');
    table.dropColumn('locked_by');
  });
}
