import type { Knex } from 'knex';

// The device authorization grant (RFC 8628): a terminal's request to log in, approved or denied in
// the browser. The device code is stored only as its SHA-256; the user code is short-lived and
// useless without a signed-in approval, so it is the lookup key as typed (normalised).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('device_authorizations', (table) => {
    table.string('id', 36).primary();
    table.string('device_code_hash', 64).notNullable().unique({ indexName: 'device_authorizations_device_code_hash_unique' });
    table.string('user_code', 8).notNullable().unique({ indexName: 'device_authorizations_user_code_unique' });
    table.string('client_id', 64).notNullable();
    // Where the request came from, shown on the approval page (RFC 8628 §5.4, remote phishing).
    table.string('address', 64).notNullable();
    table.string('user_agent', 256).nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.string('status', 16).notNullable().defaultTo('pending'); // pending, approved, denied
    table.string('user_id', 36).nullable().references('id').inTable('users').onDelete('CASCADE');
    table.bigInteger('decided_at').nullable();
    // The browser session that approved it (its public id): the grant is good only while that
    // session lives, so logging out everywhere, a password reset or a disabled account voids it.
    table.string('approved_session', 36).nullable();
    // The polling interval in seconds (grows by 5 with each slow_down) and the last poll.
    table.integer('interval_seconds').notNullable();
    table.bigInteger('last_polled_at').nullable();
    // Set when the approved grant was exchanged for a session: used once.
    table.bigInteger('used_at').nullable();
    table.index(['expires_at'], 'device_authorizations_expires');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('device_authorizations');
}
