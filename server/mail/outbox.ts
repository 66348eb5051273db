// The transactional outbox: a mail is a row written in the same transaction as the change it
// reports, so a registration and its email commit or roll back together.
import type { Knex } from 'knex';
import type { MailContent } from './templates.js';

export async function enqueueMail(trx: Knex | Knex.Transaction, kind: string, to: string, content: MailContent, now: number): Promise<void> {
  await trx('mail_outbox').insert({
    kind,
    to_address: to,
    subject: content.subject,
    text_body: content.text,
    html_body: content.html,
    link: content.link ?? null,
    attempts: 0,
    next_attempt_at: now,
    created_at: now,
  });
}
