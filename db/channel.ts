// Cache invalidations between daemons. On PostgreSQL a message is a NOTIFY sent inside the
// transaction that made the change (so it goes out at commit, and never for a rollback), and every
// daemon LISTENs on one connection of its own. SQLite serves one daemon, whose caches are told
// directly, so there the channel is always live and carries nothing.
import type { Knex } from 'knex';
import pg from 'pg';
import type { Database } from './connection.js';

const CHANNEL = 'taskmaster_invalidate';
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** At most this long a revocation waits for its own message to come back. */
const SETTLE_MAX_MS = 250;

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
   * Resolves once this daemon's own listener has heard every message it published so far (PostgreSQL
   * sends a NOTIFY to every listener at once, so the other daemons have been sent it too), or after
   * SETTLE_MAX_MS. A revocation awaits it before it answers, so the revoked credential's next
   * request, on any daemon, comes after the daemon was told.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export function openInvalidationChannel(db: Database, onError: (error: Error) => void): InvalidationChannel {
  if (db.dialect === 'sqlite') {
    return { live: true, publish: async () => undefined, subscribe: () => undefined, settle: async () => undefined, close: async () => undefined };
  }
  return new PostgresChannel(db.url, onError);
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

  /** Messages published and not heard back yet (a rolled-back one never is: each is forgotten after a while). */
  private readonly unheard = new Map<string, { heard: Promise<void>; hear: () => void }>();

  async publish(trx: Knex | Knex.Transaction, payload: string): Promise<void> {
    if (!this.unheard.has(payload)) {
      let hear = () => undefined as void;
      const heard = new Promise<void>((resolve) => (hear = resolve));
      this.unheard.set(payload, { heard, hear });
      setTimeout(() => this.heard(payload), 5_000).unref();
    }
    await trx.raw('SELECT pg_notify(?, ?)', [CHANNEL, payload]);
  }

  async settle(): Promise<void> {
    if (!this.live || this.unheard.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_MAX_MS)));
    await Promise.race([Promise.all([...this.unheard.values()].map((entry) => entry.heard)), deadline]);
    clearTimeout(timer);
  }

  private heard(payload: string): void {
    this.unheard.get(payload)?.hear();
    this.unheard.delete(payload);
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
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    this.client = client;
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload !== undefined) {
        this.handlers.message(message.payload);
        this.heard(message.payload);
      }
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
