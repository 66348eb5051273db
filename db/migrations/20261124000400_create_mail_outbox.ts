import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mail_outbox', (table) => {
    table.increments('id').primary();
    table.string('kind', 32).notNullable();
    table.string('to_address', 254).notNullable();
    table.string('subject', 200).notNullable();
    // Bodies and the link hold a raw token until delivery; the sender blanks them once sent.
    table.text('text_body').nullable();
    table.text('html_body').nullable();
    table.text('link').nullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('next_attempt_at').notNullable();
    table.bigInteger('sent_at').nullable();
    table.bigInteger('failed_at').nullable();
    table.string('last_error', 500).nullable();
    table.bigInteger('created_at').notNullable();
    table.index(['sent_at', 'failed_at', 'next_attempt_at'], 'mail_outbox_due');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('mail_outbox');
}
