import type { Knex } from 'knex';

// Who holds a row's lease: a sender renews or releases only its own, so one that lost its lease
// (a stalled daemon) cannot extend or free the lease of the sender that took the row over.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (table) => {
    table.string('locked_by', 36).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mail_outbox', (table) => {
    table.dropColumn('locked_by');
  });
}
