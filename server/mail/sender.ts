// Delivers the outbox: due rows are sent in order, failures retried with exponential backoff.
// It runs beside the request path, so a slow or dead mail server never slows a registration.
import type { Logger } from 'pino';
import type { Database } from '../../db/connection.js';
import { PermanentMailError, type MailTransport } from './transports.js';

export interface SenderOptions {
  clock: () => number;
  /** First retry delay; doubles each attempt up to maxRetryDelayMs. */
  baseRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

const BATCH = 20;

export class MailSender {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly baseDelay: number;
  private readonly maxDelay: number;

  constructor(
    private readonly db: Database,
    private readonly transport: MailTransport,
    private readonly log: Logger,
    private readonly options: SenderOptions,
  ) {
    this.baseDelay = options.baseRetryDelayMs ?? 1_000;
    this.maxDelay = options.maxRetryDelayMs ?? 30_000;
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
        } else if (waitMs !== undefined) {
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

  /** Sends what is due; returns how long to wait before the next due mail (undefined: none pending). */
  private async pass(): Promise<number | undefined> {
    const { knex } = this.db;
    for (;;) {
      const now = this.options.clock();
      const due = await knex('mail_outbox')
        .whereNull('sent_at')
        .whereNull('failed_at')
        .where('next_attempt_at', '<=', now)
        .orderBy('id')
        .limit(BATCH);
      for (const row of due) {
        if (this.stopped) return undefined;
        await this.deliver(row);
      }
      if (due.length < BATCH) break;
    }
    const next = await knex('mail_outbox').whereNull('sent_at').whereNull('failed_at').min({ at: 'next_attempt_at' }).first();
    if (next?.at === null || next?.at === undefined) return undefined;
    return Math.max(0, Number(next.at) - this.options.clock());
  }

  private async deliver(row: Record<string, unknown>): Promise<void> {
    const id = Number(row.id);
    try {
      await this.transport.deliver({
        id,
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
          last_error: message,
          text_body: null,
          html_body: null,
          link: null,
        });
        return;
      }
      const delay = Math.min(this.maxDelay, this.baseDelay * 2 ** (attempts - 1));
      this.log.warn({ mailId: id, attempts, retryInMs: delay }, 'mail delivery failed; will retry');
      await this.db.knex('mail_outbox').where({ id }).update({ attempts, next_attempt_at: this.options.clock() + delay, last_error: message });
    }
  }
}
