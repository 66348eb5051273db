import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

// What `GET /v1/sessions` lists: a public id (never the token), when it was last used, and the
// address and user agent it was created from.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (table) => {
    table.string('public_id', 36).nullable().unique({ indexName: 'sessions_public_id_unique' });
    table.bigInteger('last_used_at').nullable();
    table.string('address', 64).nullable();
    table.string('user_agent', 256).nullable();
  });
  const existing = await knex('sessions').select('id', 'created_at');
  for (const row of existing) {
    await knex('sessions').where('id', row.id).update({ public_id: randomUUID(), last_used_at: row.created_at });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (table) => {
    table.dropUnique(['public_id'], 'sessions_public_id_unique');
    table.dropColumn('public_id');
    table.dropColumn('last_used_at');
    table.dropColumn('address');
    table.dropColumn('user_agent');
  });
}
