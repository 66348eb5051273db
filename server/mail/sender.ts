// Delivers the outbox: due rows are sent in order, failures retried with exponential backoff.
// It runs beside the request path, so a slow or dead mail server never slows a registration.
//
// State: the outbox is in the database and shared by every daemon. A sender claims due rows with
// SELECT … FOR UPDATE SKIP LOCKED and leases them (locked_until) in one short transaction, sends
// outside it, then marks each row sent. A daemon that dies mid-delivery leaves its lease to run
// out, and another daemon sends those rows then: nothing is lost, and only a mail in flight at the
// moment of death can go out twice (its Message-ID, made from the row, lets a receiver see that).
import type { Logger } from 'pino';
import { skipLocked, type Database } from '../../db/connection.js';
import { PermanentMailError, type MailTransport } from './transports.js';

export interface SenderOptions {
  clock: () => number;
  /** First retry delay; doubles each attempt up to maxRetryDelayMs. */
  baseRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long a claimed row stays this sender's before another may take it over. */
  leaseMs?: number;
  /** How often to look for mail queued by other daemons or left by a dead one. */
  pollMs?: number;
}

/** Rows claimed (and sent side by side) at once. */
const BATCH = 10;

export class MailSender {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly db: Database,
    private readonly transport: MailTransport,
    private readonly log: Logger,
    private readonly options: SenderOptions,
  ) {
    this.baseDelay = options.baseRetryDelayMs ?? 1_000;
    this.maxDelay = options.maxRetryDelayMs ?? 30_000;
    // Longer than the SMTP timeouts of one delivery (connect 10 s + socket 30 s), with room.
    this.leaseMs = options.leaseMs ?? 120_000;
    this.pollMs = options.pollMs ?? 2_000;
  }

  start(): void {
    this.kick();
  }

  /** Ask for a pass now (after a mail was queued). Passes never overlap. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.pass()
      .catch((error: Error) => {
        this.log.warn({ err: { message: error.message } }, 'mail sender pass failed');
        return this.baseDelay;
      })
      .then((waitMs) => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), waitMs);
          this.timer.unref();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.transport.close();
  }

  /** Sends what is due; returns how long to wait before looking again. */
  private async pass(): Promise<number> {
    for (;;) {
      const claimed = await this.claim();
      if (this.stopped) {
        // Hand the rows back at once rather than leave them to a lease that has to run out.
        await this.db.knex('mail_outbox').whereIn('id', claimed.map((row) => Number(row.id))).update({ locked_until: null });
        return this.pollMs;
      }
      await Promise.all(claimed.map((row) => this.deliver(row)));
      if (claimed.length < BATCH) break;
    }
    const { knex } = this.db;
    const next = await knex('mail_outbox').whereNull('sent_at').whereNull('failed_at').whereNull('locked_until').min({ at: 'next_attempt_at' }).first();
    const dueIn = next?.at === null || next?.at === undefined ? this.pollMs : Number(next.at) - this.options.clock();
    return Math.max(0, Math.min(this.pollMs, dueIn));
  }

  /** Leases the next due rows to this sender, in one short transaction. */
  private claim(): Promise<Record<string, unknown>[]> {
    return this.db.knex.transaction(async (trx) => {
      const now = this.options.clock();
      const due = await skipLocked(
        this.db,
        trx('mail_outbox')
          .whereNull('sent_at')
          .whereNull('failed_at')
          .where('next_attempt_at', '<=', now)
          .where((free) => free.whereNull('locked_until').orWhere('locked_until', '<=', now))
          .orderBy('id')
          .limit(BATCH),
      );
      if (due.length > 0) {
        await trx('mail_outbox')
          .whereIn(
            'id',
            due.map((row: { id: number }) => row.id),
          )
          .update({ locked_until: now + this.leaseMs });
      }
      return due;
    });
  }

  private async deliver(row: Record<string, unknown>): Promise<void> {
    const id = Number(row.id);
    try {
      await this.transport.deliver({
        id,
        messageId: `${id}.${Number(row.created_at)}`,
        kind: String(row.kind),
        to: String(row.to_address),
        subject: String(row.subject),
        text: String(row.text_body ?? ''),
        html: String(row.html_body ?? ''),
        link: (row.link as string | null) ?? null,
      });
      // Blank the bodies once sent: they hold a raw token that must not stay in the database.
      await this.db.knex('mail_outbox').where({ id }).update({
        sent_at: this.options.clock(),
        locked_until: null,
        attempts: Number(row.attempts) + 1,
        text_body: null,
        html_body: null,
        link: null,
        last_error: null,
      });
    } catch (error) {
      const attempts = Number(row.attempts) + 1;
      const message = String((error as Error).message ?? error).slice(0, 500);
      if (error instanceof PermanentMailError) {
        this.log.error({ mailId: id, attempts }, 'mail refused for good by the SMTP server');
        await this.db.knex('mail_outbox').where({ id }).update({
          attempts,
          failed_at: this.options.clock(),
          locked_until: null,
          last_error: message,
          text_body: null,
          html_body: null,
          link: null,
        });
        return;
      }
      const delay = Math.min(this.maxDelay, this.baseDelay * 2 ** (attempts - 1));
      this.log.warn({ mailId: id, attempts, retryInMs: delay }, 'mail delivery failed; will retry');
      await this.db.knex('mail_outbox').where({ id }).update({ attempts, next_attempt_at: this.options.clock() + delay, locked_until: null, last_error: message });
    }
  }
}
