// Delivers the outbox: due rows are sent in order, failures retried with exponential backoff.
// It runs beside the request path, so a slow or dead mail server never slows a registration.
// Every failure is logged with its reason. A transient one (a 4xx, a refused connection, a DNS
// hiccup) is retried soon; one that retrying as things are cannot fix (a 5xx, a refused login, a
// rejected certificate) waits longer, for someone to fix the settings. Either way a mail still
// undelivered giveUpAfterMs after it was queued is marked failed, at error level.
//
// State: the outbox is in the database and shared by every daemon. A sender claims due rows with
// SELECT … FOR UPDATE SKIP LOCKED and leases them (locked_until) in one short transaction, sends
// outside it, then marks each row sent. A daemon that dies mid-delivery leaves its lease to run
// out, and another daemon sends those rows then: nothing is lost, and only a mail in flight at the
// moment of death can go out twice (its Message-ID, made from the row, lets a receiver see that).
//
// Held mail is tried at once, not at its backoff time, when the server shows it works again: the
// start-up check passed (main.ts), or a delivery succeeded after one failed. Whether one failed is
// this sender's own memory (each daemon has its own): at worst held mail is tried early once more.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../../db/connection.js';
import type { Metrics } from '../metrics/metrics.js';
import { claimDueMail, markFailed, markSent, nextAttemptAt, releaseMail, renewLease, retryHeldMailNow, scheduleRetry, type OutboxRow } from './outbox.js';
import { MailDeliveryError, type MailTransport } from './transports.js';

export interface SenderOptions {
  clock: () => number;
  /** First retry delay; doubles each attempt up to maxRetryDelayMs. */
  baseRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** The same, after an answer that retrying as things are cannot fix (5xx, refused login, bad certificate). */
  basePermanentDelayMs?: number;
  maxPermanentDelayMs?: number;
  /** A mail still undelivered this long after it was queued is marked failed. */
  giveUpAfterMs?: number;
  /** How long a claimed row stays this sender's before another may take it over. */
  leaseMs?: number;
  /** How often to look for mail queued by other daemons or left by a dead one. */
  pollMs?: number;
  /** Counts mails sent, attempts failed and mails given up (when metrics are on). */
  metrics?: Metrics | undefined;
}

/** How long a claimed row stays its sender's before another may take it over (renewed while sending). */
export const DEFAULT_LEASE_MS = 15_000;
/** How often a sender looks for mail queued by other daemons or left by a dead one. */
export const DEFAULT_POLL_MS = 2_000;

/** Rows claimed (and sent side by side) at once. */
const BATCH = 10;
/** As long as MTAs commonly keep a deferred mail (Postfix: 5 days); the tokens inside expire sooner anyway. */
export const GIVE_UP_AFTER_MS = 3 * 24 * 60 * 60 * 1000;

export class MailSender {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly basePermanentDelay: number;
  private readonly maxPermanentDelay: number;
  private readonly giveUpAfterMs: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /** This sender's name on the rows it leases. */
  private readonly leaseId = randomUUID();
  /** A delivery failed since the last one that succeeded: the next success means the server works again. */
  private failedSinceSuccess = false;
  /**
   * The rows the last recovery made due: their failing again is no news. Without it a mail to an
   * unknown mailbox, made due by every later success, would be tried after each of them.
   */
  private retriedOnRecovery = new Set<number>();

  constructor(
    private readonly db: Database,
    private readonly transport: MailTransport,
    private readonly log: Logger,
    private readonly options: SenderOptions,
  ) {
    this.baseDelay = options.baseRetryDelayMs ?? 1_000;
    this.maxDelay = options.maxRetryDelayMs ?? 30_000;
    this.basePermanentDelay = options.basePermanentDelayMs ?? 60_000;
    this.maxPermanentDelay = options.maxPermanentDelayMs ?? 30 * 60_000;
    this.giveUpAfterMs = options.giveUpAfterMs ?? GIVE_UP_AFTER_MS;
    // Renewed while a delivery runs (see whileLeased), so it need not outlast the SMTP timeouts.
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
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
    await this.transport.close();
  }

  /** The server works again (`why`): mail held by a backoff is tried now, not at its retry time. */
  async retryHeldMail(why: string): Promise<void> {
    if (this.stopped) return;
    const ids = await retryHeldMailNow(this.db, this.options.clock());
    if (ids.length === 0) return;
    this.retriedOnRecovery = new Set(ids);
    this.log.info({ mailIds: ids.length <= 20 ? ids : undefined, mails: ids.length }, `${why}: trying ${ids.length} held mail${ids.length === 1 ? '' : 's'} now`);
    this.kick();
  }

  /** Sends what is due; returns how long to wait before looking again. */
  private async pass(): Promise<number> {
    for (;;) {
      const claimed = await claimDueMail(this.db, this.leaseId, this.leaseMs, this.options.clock(), BATCH);
      if (this.stopped) {
        await releaseMail(this.db, claimed.map((row) => row.id), this.leaseId);
        return this.pollMs;
      }
      await this.whileLeased(claimed, () => Promise.all(claimed.map((row) => this.deliver(row))));
      if (claimed.length < BATCH) break;
    }
    const next = await nextAttemptAt(this.db);
    const dueIn = next === undefined ? this.pollMs : next - this.options.clock();
    return Math.max(0, Math.min(this.pollMs, dueIn));
  }

  /**
   * Keeps the rows leased while `work` runs: the lease is short (a dead daemon's mail waits only
   * that long), so it is renewed every third of it for as long as a delivery takes.
   */
  private async whileLeased<T>(rows: OutboxRow[], work: () => Promise<T>): Promise<T> {
    const ids = rows.map((row) => row.id);
    const renew = setInterval(() => {
      // a missed renewal only shortens the lease
      renewLease(this.db, ids, this.leaseId, this.options.clock() + this.leaseMs).catch(() => undefined);
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    renew.unref();
    try {
      return await work();
    } finally {
      clearInterval(renew);
    }
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const { id } = row;
    const attempt = row.attempts + 1;
    try {
      const reply = await this.transport.deliver({
        id,
        messageId: `${id}.${row.created_at}`,
        kind: row.kind,
        to: row.to_address,
        subject: row.subject,
        text: row.text_body ?? '',
        html: row.html_body ?? '',
        link: row.link ?? null,
      });
      await markSent(this.db, id, attempt, this.options.clock());
      this.options.metrics?.mailSent(row.kind);
      // The recipient's domain only: the log is no place for the whole address.
      const toDomain = row.to_address.slice(row.to_address.lastIndexOf('@') + 1).toLowerCase();
      const said = reply.replace(/\s+/g, ' ').trim().slice(0, 300);
      this.log.info({ mailId: id, kind: row.kind, toDomain, reply: said, attempt }, `mail ${id} (${row.kind}) to …@${toDomain} delivered on attempt ${attempt}: ${said}`);
    } catch (error) {
      if (!this.retriedOnRecovery.has(id)) this.failedSinceSuccess = true;
      await this.failed(row, error instanceof MailDeliveryError ? error : new MailDeliveryError(String((error as Error)?.message ?? error).slice(0, 300), false));
      return;
    }
    this.retriedOnRecovery.delete(id);
    if (this.failedSinceSuccess) {
      this.failedSinceSuccess = false;
      await this.retryHeldMail(`mail ${id} delivered after failed deliveries`).catch((error: Error) => this.log.warn({ err: { message: error.message } }, 'could not make held mail due'));
    }
  }

  /** Logs why a delivery failed, then schedules the next try, or marks the mail failed once it is too old. */
  private async failed(row: OutboxRow, failure: MailDeliveryError): Promise<void> {
    const { id } = row;
    const attempts = row.attempts + 1;
    const now = this.options.clock();
    const giveUpAt = row.created_at + this.giveUpAfterMs;
    const { smtpCode, errorCode, hint } = failure.details;
    const fields = { mailId: id, kind: row.kind, attempts, reason: failure.reason, permanent: failure.permanent, smtpCode, errorCode, hint };
    const lastError = failure.reason.slice(0, 500);
    if (now >= giveUpAt) {
      const hours = Math.round((now - row.created_at) / 3_600_000);
      this.log.error(fields, `mail ${id} failed for good after ${attempts} attempts in ${hours} h: ${failure.reason}`);
      await markFailed(this.db, id, this.leaseId, attempts, now, lastError);
      this.options.metrics?.mailFailed(row.kind);
      return;
    }
    const [base, max] = failure.permanent ? [this.basePermanentDelay, this.maxPermanentDelay] : [this.baseDelay, this.maxDelay];
    // The last try lands on the give-up moment, so a mail is marked failed then, not a backoff later.
    const delay = Math.min(max, base * 2 ** (attempts - 1), giveUpAt - now);
    const next = `retry in ${delay >= 60_000 ? `${Math.round(delay / 60_000)} min` : `${Math.ceil(delay / 1000)} s`}`;
    if (failure.permanent) {
      this.log.error({ ...fields, retryInMs: delay }, `mail ${id} not delivered: ${failure.reason}${hint ? ` (${hint})` : ''}; ${next}`);
    } else {
      this.log.warn({ ...fields, retryInMs: delay }, `mail ${id} not delivered: ${failure.reason}; ${next}`);
    }
    await scheduleRetry(this.db, id, this.leaseId, attempts, now + delay, lastError);
    this.options.metrics?.mailAttemptFailed(row.kind, failure.permanent);
  }
}
