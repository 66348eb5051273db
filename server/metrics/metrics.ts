// The daemon's Prometheus metrics: one Registry per daemon (never prom-client's global one, so
// several daemons in one process, as in the tests, keep their counts apart), Node's default
// process metrics beside ours, and the functions the capabilities call as things happen. Built
// only when METRICS_PORT is set (createMetrics loads prom-client then, ~40 ms, and not otherwise);
// otherwise `deps.metrics` is undefined and every call site is one skipped `?.`. State: in this daemon's memory only; each daemon of several reports its own counts
// (sum them in Prometheus), except the outbox gauges, read from the shared database (take the max).
//
// No label carries a user id, an email, an address or a token: every label value is one of a
// fixed set written in this file or in the code that calls it (route patterns, result names, mail
// kinds, cache names).
import type { Counter, Metric, Registry } from 'prom-client';
import { HttpError } from '../core/errors.js';
import { packageVersion } from '../core/version.js';
import { RequestMetrics } from './requests.js';

/** How a login attempt ended, as `taskmaster_logins_total{result}` says. */
export const LOGIN_RESULTS = [
  'success',
  /** Wrong password or unknown email: the daemon answers both alike, and so does this label. */
  'invalid_credentials',
  /** Right password, the code still to come: neither a failure nor a success. */
  'otp_required',
  'invalid_code',
  'invalid_challenge',
  /** Refused by a login block or limit (429) before any password was checked. */
  'blocked',
  'email_not_verified',
  'account_disabled',
  'invalid_input',
  /** Anything else: the database unreachable, a fault. */
  'error',
] as const;
export type LoginResult = (typeof LOGIN_RESULTS)[number];

/** Which login block was set (server/core/throttle.ts). */
export const BLOCK_SCOPES = ['account_and_address', 'account'] as const;
export type BlockScope = (typeof BLOCK_SCOPES)[number];

/** Tokens the daemon refused: bearer credentials and emailed tokens. */
export const TOKEN_KINDS = ['session', 'access_token', 'email_verification', 'password_reset'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** The credential caches (server/sessions/cache.ts). */
export const CACHE_NAMES = ['sessions', 'users', 'access_tokens'] as const;
export type CacheName = (typeof CACHE_NAMES)[number];

/** A cache's lookups, counted with two additions on the hot path and read when scraped. */
export interface CacheStats {
  hits: number;
  misses: number;
}

/** The mail waiting in the outbox, read from the database when scraped. */
export interface OutboxDepth {
  pending: number;
  /** When the oldest pending mail was queued (epoch ms); undefined when none waits. */
  oldestQueuedAt: number | undefined;
}

/** HttpError codes a login may end with, mapped to its result; anything not listed is `error`. */
const LOGIN_RESULT_OF_CODE: Record<string, LoginResult> = {
  invalid_credentials: 'invalid_credentials',
  otp_required: 'otp_required',
  invalid_code: 'invalid_code',
  invalid_challenge: 'invalid_challenge',
  passkey_refused: 'invalid_credentials',
  rate_limited: 'blocked',
  email_not_verified: 'email_not_verified',
  account_disabled: 'account_disabled',
  invalid_input: 'invalid_input',
};

/** The result label of a login that threw `error`. */
export function loginResultOf(error: unknown): LoginResult {
  return (error instanceof HttpError && LOGIN_RESULT_OF_CODE[error.code]) || 'error';
}

export interface MetricsOptions {
  clock: () => number;
  /** The outbox's depth (server/mail/outbox.ts), asked at each scrape. */
  outboxDepth: () => Promise<OutboxDepth>;
  /** How long a scrape waits for the outbox query before it leaves the gauges out. */
  outboxTimeoutMs?: number;
}

/** The metrics, with prom-client loaded now (only a daemon with METRICS_PORT pays for loading it). */
export async function createMetrics(options: MetricsOptions): Promise<Metrics> {
  return new Metrics(await import('prom-client'), options);
}

export class Metrics {
  readonly registry: Registry;
  /** The request frame's (server/app.ts). */
  readonly requests = new RequestMetrics();
  private readonly logins: Counter<'result'>;
  private readonly registrations: Counter;
  private readonly blocks: Counter<'scope'>;
  private readonly codesRefused: Counter;
  private readonly tokensRefused: Counter<'kind'>;
  private readonly mailsSent: Counter<'kind'>;
  private readonly mailAttemptsFailed: Counter<'kind' | 'permanent'>;
  private readonly mailsFailed: Counter<'kind'>;
  private readonly caches = new Map<CacheName, CacheStats>();

  constructor(prom: typeof import('prom-client'), options: MetricsOptions) {
    const { Counter, Gauge, Registry, collectDefaultMetrics } = prom;
    this.registry = new Registry();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client also adds these gauges, named like counters (promtool's lint refuses them); each is
    // the sum of its labelled twin kept above: sum(nodejs_active_handles) and so on.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.registry.registerMetric(this.requests.counter as unknown as Metric);
    this.registry.registerMetric(this.requests.histogram as unknown as Metric);

    this.logins = new Counter({ name: 'taskmaster_logins_total', help: 'Login attempts (POST /v1/sessions and /v1/sessions/otp) by how they ended.', labelNames: ['result'], registers });
    this.registrations = new Counter({ name: 'taskmaster_registrations_total', help: 'Accounts created.', registers });
    this.blocks = new Counter({ name: 'taskmaster_login_blocks_total', help: 'Login blocks set after repeated failures: for an account from one address, or for the account from everywhere.', labelNames: ['scope'], registers });
    this.codesRefused = new Counter({ name: 'taskmaster_codes_refused_total', help: 'Two-factor codes (TOTP or recovery) refused at a login or a re-authentication: wrong, used already, or of a time step used already.', registers });
    this.tokensRefused = new Counter({ name: 'taskmaster_tokens_refused_total', help: 'Tokens refused, by kind: session and access tokens (unknown, ended, expired, malformed, or used from outside their address ranges) and emailed tokens (verification, password reset).', labelNames: ['kind'], registers });
    this.mailsSent = new Counter({ name: 'taskmaster_mails_sent_total', help: 'Mails the SMTP server (or the outbox folder) accepted, by kind.', labelNames: ['kind'], registers });
    this.mailAttemptsFailed = new Counter({ name: 'taskmaster_mail_attempts_failed_total', help: 'Delivery attempts that failed and will be retried, by kind; permanent="true" when the answer was one retrying as things are cannot fix (a 5xx, a refused login, a bad certificate).', labelNames: ['kind', 'permanent'], registers });
    this.mailsFailed = new Counter({ name: 'taskmaster_mails_failed_total', help: 'Mails given up for good (still undelivered 3 days after they were queued), by kind.', labelNames: ['kind'], registers });
    // Every series exists from the start at 0, so rate() and increase() see the first event.
    for (const result of LOGIN_RESULTS) this.logins.inc({ result }, 0);
    for (const scope of BLOCK_SCOPES) this.blocks.inc({ scope }, 0);
    for (const kind of TOKEN_KINDS) this.tokensRefused.inc({ kind }, 0);
    this.registrations.inc(0);
    this.codesRefused.inc(0);

    const caches = this.caches;
    const cacheCounter = (name: string, help: string, read: (stats: CacheStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['cache'],
        registers,
        collect(this: Counter<'cache'>) {
          this.reset();
          for (const [cache, stats] of caches) this.inc({ cache }, read(stats));
        },
      });
    cacheCounter('taskmaster_credential_cache_hits_total', 'Credential lookups answered from this daemon\'s cache (server/sessions/cache.ts), by cache.', (stats) => stats.hits);
    cacheCounter('taskmaster_credential_cache_misses_total', 'Credential lookups that asked the database (not cached, older than 5 s, or the invalidation channel down), by cache.', (stats) => stats.misses);

    const { clock, outboxDepth, outboxTimeoutMs = 2_000 } = options;
    let depth: Promise<OutboxDepth | undefined> | undefined;
    // Both gauges ask once per scrape: the first starts the query, the second shares it.
    const readDepth = () =>
      (depth ??= withTimeout(outboxDepth(), outboxTimeoutMs)
        .catch(() => undefined)
        .finally(() => (depth = undefined)));
    // Gauges left out of the scrape (not 0) when the database did not answer: prom-client's own
    // Gauge always writes a value, so these two are collectors of their own.
    const outboxGauge = (name: string, help: string, value: (read: OutboxDepth) => number) => ({
      name,
      help,
      type: 'gauge' as const,
      aggregator: 'max' as const,
      get: async () => {
        const read = await readDepth();
        return { name, help, type: 'gauge' as const, aggregator: 'max' as const, values: read ? [{ value: value(read), labels: {} }] : [] };
      },
    });
    this.registry.registerMetric(
      outboxGauge('taskmaster_mail_outbox_depth', 'Mails waiting in the outbox (not sent, not given up), for every daemon on this database; absent when the database did not answer.', (read) => read.pending) as unknown as Metric,
    );
    this.registry.registerMetric(
      outboxGauge('taskmaster_mail_outbox_oldest_age_seconds', 'How long the oldest waiting mail has been in the outbox; 0 when none waits; absent when the database did not answer.', (read) =>
        read.oldestQueuedAt === undefined ? 0 : Math.max(0, (clock() - read.oldestQueuedAt) / 1000),
      ) as unknown as Metric,
    );
    new Gauge({ name: 'taskmaster_build_info', help: 'Always 1; the version of taskmasterd in its label.', labelNames: ['version'], registers }).set({ version: packageVersion() }, 1);
  }

  /** The counts of the cache `name`, which it increments itself (one per daemon and name). */
  cache(name: CacheName): CacheStats {
    let stats = this.caches.get(name);
    if (!stats) this.caches.set(name, (stats = { hits: 0, misses: 0 }));
    return stats;
  }

  login(result: LoginResult): void {
    this.logins.inc({ result });
  }

  registration(): void {
    this.registrations.inc();
  }

  block(scope: BlockScope): void {
    this.blocks.inc({ scope });
  }

  codeRefused(): void {
    this.codesRefused.inc();
  }

  tokenRefused(kind: TokenKind): void {
    this.tokensRefused.inc({ kind });
  }

  mailSent(kind: string): void {
    this.mailsSent.inc({ kind });
  }

  mailAttemptFailed(kind: string, permanent: boolean): void {
    this.mailAttemptsFailed.inc({ kind, permanent: String(permanent) });
  }

  mailFailed(kind: string): void {
    this.mailsFailed.inc({ kind });
  }

  /** The Prometheus text format, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
