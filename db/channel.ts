// Cache invalidations between daemons. On PostgreSQL a message is a NOTIFY sent inside the
// transaction that made the change (so it goes out at commit, and never for a rollback), and every
// daemon LISTENs on one connection of its own. SQLite serves one daemon, whose caches are told
// directly, so there the channel carries no messages; but another process may write the file
// (`taskmasterd users disable`), so the daemon watches for that: every SQLITE_WATCH_MS it asks its
// connection `PRAGMA data_version`, which changes only when another connection committed, and
// then drops every cache. One cheap statement four times a second; a write from elsewhere is seen
// within that (docs/several-daemons.md).
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Database } from './connection.js';

const CHANNEL = 'taskmaster_invalidate';
/** The listening connections name themselves so, so a daemon can count them (pg_stat_activity). */
const LISTENER_NAME = 'taskmaster-listen';
/** `ack:<daemon>:<message>`: a daemon acted on a message. */
const ACK = 'ack:';
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** At most this long a revocation waits for its own message to come back. */
const SETTLE_MAX_MS = 250;
/** How often a daemon on SQLite looks for commits made by another process. */
export const SQLITE_WATCH_MS = 250;
/** A look older than this (the connection busy, or failing) turns the caches off until the next one. */
const SQLITE_STALE_MS = 1_000;

export interface ChannelHandlers {
  /** A message another daemon (or this one) published. */
  message(payload: string): void;
  /** Messages may have been missed (the listening connection was lost or came back): drop every cache. */
  reset(): void;
}

export interface InvalidationChannel {
  /** True while messages are known to arrive; a cache must not answer from memory otherwise. */
  readonly live: boolean;
  /** Sends `payload` to every daemon when `trx` commits (or at once, outside a transaction). */
  publish(trx: Knex | Knex.Transaction, payload: string): Promise<void>;
  /** Each cache subscribes itself, when it is made. */
  subscribe(handlers: ChannelHandlers): void;
  /**
   * Resolves once every listening daemon has acted on every message this one published so far (each
   * acknowledges a message after its caches dropped the entries), or after SETTLE_MAX_MS. A
   * revocation awaits it before it answers, so the revoked credential's next request, on any
   * daemon, finds nothing cached.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface ChannelOptions {
  /**
   * The channel of another process than a daemon (`taskmasterd users`): on SQLite it does not
   * watch, and settle() waits until every daemon's watch has seen what it published.
   */
  outOfProcess?: boolean;
}

export function openInvalidationChannel(db: Database, onError: (error: Error) => void, options: ChannelOptions = {}): InvalidationChannel {
  if (db.dialect === 'sqlite') return new SqliteChannel(db, onError, options.outOfProcess === true);
  return new PostgresChannel(db.url, onError);
}

/** SQLite: the daemon's caches are told directly; commits of other processes are noticed by watching data_version. */
class SqliteChannel implements InvalidationChannel {
  /** When the last look succeeded (performance.now()). */
  private lastLook: number | undefined;
  private readonly subscribers: ChannelHandlers[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private version: number | undefined;
  private looking = false;
  private closed = false;
  /** Out of process: a change was published that the daemons may not have seen yet. */
  private published = false;

  constructor(
    private readonly db: Database,
    private readonly onError: (error: Error) => void,
    private readonly outOfProcess: boolean,
  ) {
    if (outOfProcess) return;
    this.lastLook = performance.now(); // the caches are empty at start: nothing stale to serve
    this.timer = setInterval(() => void this.look(), SQLITE_WATCH_MS);
    this.timer.unref();
    void this.look();
  }

  /**
   * Live while a look succeeded within SQLITE_STALE_MS: a look held up behind a busy connection
   * turns the caches off rather than let them answer past another process's commit.
   */
  get live(): boolean {
    return this.outOfProcess || (this.lastLook !== undefined && performance.now() - this.lastLook < SQLITE_STALE_MS);
  }

  async publish(): Promise<void> {
    if (this.outOfProcess) this.published = true;
  }

  subscribe(handlers: ChannelHandlers): void {
    this.subscribers.push(handlers);
  }

  /** Out of process, after a commit: long enough for every daemon to have looked twice. */
  async settle(): Promise<void> {
    if (!this.outOfProcess || !this.published) return;
    this.published = false;
    await new Promise((resolve) => setTimeout(resolve, 2 * SQLITE_WATCH_MS + 50));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
  }

  private async look(): Promise<void> {
    if (this.looking || this.closed) return;
    this.looking = true;
    try {
      const rows = (await this.db.knex.raw('PRAGMA data_version')) as { data_version: number }[];
      const version = Number(rows[0]?.data_version);
      if (this.version !== undefined && version !== this.version) this.reset();
      this.version = version;
      this.lastLook = performance.now();
    } catch (error) {
      if (this.closed) return;
      // Unknown meanwhile: serve nothing from the caches until a look succeeds.
      if (this.lastLook !== undefined) this.onError(error as Error);
      this.lastLook = undefined;
      this.version = undefined;
      this.reset();
    } finally {
      this.looking = false;
    }
  }

  private reset(): void {
    for (const subscriber of this.subscribers) subscriber.reset();
  }
}

class PostgresChannel implements InvalidationChannel {
  live = false;
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = RECONNECT_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscribers: ChannelHandlers[] = [];
  /** Every subscriber, as one. */
  private readonly handlers: ChannelHandlers = {
    message: (payload) => {
      for (const subscriber of this.subscribers) subscriber.message(payload);
    },
    reset: () => {
      for (const subscriber of this.subscribers) subscriber.reset();
    },
  };

  constructor(
    private readonly url: string,
    private readonly onError: (error: Error) => void,
  ) {
    void this.connect();
  }

  subscribe(handlers: ChannelHandlers): void {
    this.subscribers.push(handlers);
  }

  /** This daemon's name in acknowledgements. */
  private readonly id = randomUUID();
  /**
   * Messages this daemon published, and the daemons that acknowledged each; a rolled-back one is
   * never acknowledged, so each is forgotten after a while.
   */
  private readonly awaiting = new Map<string, { acked: Set<string>; changed: () => void; change: Promise<void> }>();

  async publish(trx: Knex | Knex.Transaction, payload: string): Promise<void> {
    if (!this.awaiting.has(payload)) {
      this.awaiting.set(payload, this.waiter(new Set()));
      setTimeout(() => this.awaiting.delete(payload), 5_000).unref();
    }
    await trx.raw('SELECT pg_notify(?, ?)', [CHANNEL, payload]);
  }

  async settle(): Promise<void> {
    if (!this.live || !this.client || this.awaiting.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SETTLE_MAX_MS)));
    try {
      const listening = await Promise.race([this.client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [LISTENER_NAME]), deadline]);
      if (listening === 'late') return;
      const daemons = Number(listening.rows[0]?.n ?? 1);
      const payloads = [...this.awaiting.keys()];
      for (const payload of payloads) {
        for (;;) {
          const entry = this.awaiting.get(payload);
          if (!entry || entry.acked.size >= daemons) break;
          if ((await Promise.race([entry.change, deadline])) === 'late') return;
        }
        this.awaiting.delete(payload);
      }
    } catch {
      // the listening connection went away meanwhile: the caches are off until it is back
    } finally {
      clearTimeout(timer);
    }
  }

  private waiter(acked: Set<string>): { acked: Set<string>; changed: () => void; change: Promise<void> } {
    let changed = () => undefined as void;
    const change = new Promise<void>((resolve) => (changed = resolve));
    return { acked, changed, change };
  }

  /** An acknowledgement of a message this daemon is waiting on. */
  private acknowledged(daemon: string, payload: string): void {
    const entry = this.awaiting.get(payload);
    if (!entry) return;
    entry.acked.add(daemon);
    const next = this.waiter(entry.acked);
    this.awaiting.set(payload, next);
    entry.changed();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    // TCP keepalive: a half-open connection (a dead peer, a dropped NAT entry) is noticed and replaced.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, keepAliveInitialDelayMillis: 10_000, application_name: LISTENER_NAME });
    this.client = client;
    client.on('notification', (message) => {
      const payload = message.payload;
      if (message.channel !== CHANNEL || payload === undefined) return;
      if (payload.startsWith(ACK)) {
        const rest = payload.slice(ACK.length);
        this.acknowledged(rest.slice(0, rest.indexOf(':')), rest.slice(rest.indexOf(':') + 1));
        return;
      }
      this.handlers.message(payload);
      // The caches have dropped it: say so, for the daemon that waits to answer its revocation.
      client.query('SELECT pg_notify($1, $2)', [CHANNEL, `${ACK}${this.id}:${payload}`]).catch(() => undefined);
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      this.lost(client, error as Error);
      return;
    }
    if (this.client !== client || this.closed) return;
    // Whatever happened while nobody listened is unknown: start from empty caches.
    this.handlers.reset();
    this.live = true;
    this.retryMs = RECONNECT_FIRST_MS;
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client) return; // an old connection's late event
    this.client = undefined;
    this.live = false;
    this.handlers.reset();
    client.end().catch(() => undefined);
    if (this.closed) return;
    if (error) this.onError(error);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(RECONNECT_MAX_MS, this.retryMs * 2);
  }
}
