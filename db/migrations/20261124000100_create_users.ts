import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (table) => {
    table.string('id', 36).primary();
    table.string('username', 32).notNullable();
    // Lower-cased copies carry the case-insensitive uniqueness portably (no COLLATE NOCASE, no citext).
    table.string('username_normalized', 32).notNullable().unique({ indexName: 'users_username_normalized_unique' });
    table.string('email', 254).notNullable();
    table.string('email_normalized', 254).notNullable().unique({ indexName: 'users_email_normalized_unique' });
    table.string('password_hash', 60).notNullable();
    table.bigInteger('email_verified_at').nullable();
    table.string('pending_email', 254).nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
