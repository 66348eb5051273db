// The daemon: configuration → database → app → listen → graceful shutdown.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { openInvalidationChannel } from '../db/channel.js';
import { closeWithin, databaseLabel, migrateToLatest, openDatabase, type Database } from '../db/connection.js';
import { AccountDeletion } from './accounts/deletion.js';
import { DeviceAuthorizations } from './device/authorizations.js';
import { Accounts } from './accounts/accounts.js';
import { Passkeys } from './passkeys/store.js';
import { Login } from './login/flow.js';
import { Passwords } from './passwords/passwords.js';
import { createApp } from './app.js';
import { ConfigError, DAEMON_HELP, readConfig, type Config } from './core/config.js';
import { MailSender } from './mail/sender.js';
import { deleteOldEvents } from './activity/events.js';
import { MailDeliveryError, describeSmtp, mailTransport, redact, type MailTransport } from './mail/transports.js';
import { checkMailAndExit } from './commands/check-mail.js';
import { migrateAndExit } from './commands/migrate.js';
import { USERS_HELP, usersAndExit } from './operators/command.js';
import { warmPasswordCheck } from './passwords/strength.js';
import { randomToken, type RandomToken } from './core/secrets.js';
import { SessionStore } from './sessions/store.js';
import { AccessTokens } from './tokens/store.js';
import { TotpKeyError, resolveTotpKey } from './two-factor/key.js';
import { TwoFactor } from './two-factor/store.js';
import { DEFAULT_LIMITS, Throttle, type ThrottleLimits } from './core/throttle.js';
import { packageVersion } from './core/version.js';
import { outboxDepth } from './mail/outbox.js';
import { createMetrics } from './metrics/metrics.js';
import { listeningUrl, metricsServer } from './metrics/listener.js';

/** What tests and benchmarks may replace; the defaults are what production runs. */
export interface StartOptions {
  clock?: () => number;
  random?: RandomToken;
  limits?: Partial<ThrottleLimits>;
  /** Retry delays (transient, and after a permanent-looking answer) and when a mail is given up (default 3 days). */
  mailRetry?: { baseMs?: number; maxMs?: number; permanentBaseMs?: number; permanentMaxMs?: number; giveUpAfterMs?: number };
  /** The outbox lease and poll interval (see server/mail/sender.ts). */
  mailLease?: { leaseMs: number; pollMs: number };
  log?: Logger;
}

export interface Daemon {
  url: string;
  port: number;
  /** http://METRICS_HOST:port/metrics when METRICS_PORT is set; undefined: no metrics listener. */
  metricsUrl: string | undefined;
  db: Database;
  log: Logger;
  /** The timed jobs, to run now (tests move the clock instead of waiting). */
  jobs: { noticeExpiringTokens(): Promise<number> };
  close(): Promise<void>;
}

const SWEEP_MS = 60 * 60 * 1000;
/** How often each daemon looks for access tokens entering their last 7 days (one mail each, whichever daemon looks first). */
const TOKEN_NOTICE_MS = 60 * 1000;
const LOG_BATCH_BYTES = 4096;
const LOG_FLUSH_MS = 500;

export async function startDaemon(config: Config, options: StartOptions = {}): Promise<Daemon> {
  const log = options.log ?? pino({ level: config.logLevel, base: undefined }, pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES }));
  // Lines are written in batches (a write per request cost ~15% of throughput); none waits long.
  const logFlush = setInterval(() => log.flush(), LOG_FLUSH_MS);
  logFlush.unref();
  if (config.bcryptCost < 10) log.warn(`BCRYPT_COST=${config.bcryptCost} is below 10: acceptable in tests only`);
  for (const warning of config.warnings) log.warn(warning);
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StartError(`cannot create the data folder ${config.dataDir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pick another with --data-dir or TASKMASTER_DATA_DIR`);
  }

  // A taken port or a foreign address is found out before the database and its migrations.
  if (config.port !== 0) {
    const probe = createServer();
    try {
      await listen(probe, config.port, config.host);
    } catch (error) {
      throw new StartError(listenFailure(error as NodeJS.ErrnoException, config));
    }
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
  if (config.metricsPort) {
    const probe = createServer();
    try {
      await listen(probe, config.metricsPort, config.metricsHost);
    } catch (error) {
      throw new StartError(metricsListenFailure(error as NodeJS.ErrnoException, config));
    }
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }

  // Loads beside the database's start; awaited before listening.
  const estimatorReady = warmPasswordCheck();
  estimatorReady.catch(() => undefined); // awaited below; a failure there stops the start
  let db: Database;
  try {
    db = openDatabase(config.databaseUrl);
  } catch (error) {
    throw databaseFailure(error, config.databaseUrl);
  }
  try {
    // One query first: an unreachable server fails here within the pool's acquire timeout,
    // rather than hanging in a migration connection that has none.
    await db.knex.raw('select 1');
    await migrateToLatest(db);
  } catch (error) {
    await closeWithin(db, 1_000);
    throw databaseFailure(error, config.databaseUrl);
  }

  const clock = options.clock ?? Date.now;
  // Only with METRICS_PORT: otherwise nothing is counted (and nothing listens).
  const metrics = config.metricsPort === undefined ? undefined : await createMetrics({ clock, outboxDepth: () => outboxDepth(db) });
  let publicUrl = config.publicUrl ?? '';
  let sender: MailSender | undefined;
  const invalidations = openInvalidationChannel(db, (error) => log.warn({ err: { message: error.message } }, 'cache invalidation channel lost; serving without the cache until it is back'));
  const deps = {
    db,
    clock,
    random: options.random ?? randomToken,
    bcryptCost: config.bcryptCost,
    publicUrl: () => publicUrl,
    /** SUPPORT_EMAIL, for the security notices that name it (only when set). */
    supportEmail: config.supportEmail,
    mailQueued: () => sender?.kick(),
    throttle: new Throttle(db, { ...DEFAULT_LIMITS, ...options.limits }, metrics && ((scope) => metrics.block(scope))),
    invalidations,
    log,
    metrics,
  };
  let totpKey: Buffer | undefined;
  try {
    totpKey = await resolveTotpKey(config, db, log);
  } catch (error) {
    await invalidations.close().catch(() => undefined);
    await closeWithin(db, 1_000);
    throw error instanceof TotpKeyError ? new StartError(error.message) : error;
  }
  const sessions = new SessionStore(deps);
  const twoFactor = new TwoFactor(deps, sessions, totpKey);
  const tokens = new AccessTokens(deps, sessions, twoFactor);
  const accounts = new Accounts(deps, sessions, twoFactor);
  const passwords = new Passwords(deps, sessions, tokens, twoFactor);
  const accountDeletion = new AccountDeletion(deps, sessions, tokens, twoFactor);
  const login = new Login(deps, sessions, twoFactor);
  const passkeys = new Passkeys(deps, sessions, twoFactor, login);
  const device = new DeviceAuthorizations(deps, sessions);
  const transport = mailTransport(config, log);
  sender = new MailSender(db, transport, log, {
    clock,
    baseRetryDelayMs: options.mailRetry?.baseMs,
    maxRetryDelayMs: options.mailRetry?.maxMs,
    basePermanentDelayMs: options.mailRetry?.permanentBaseMs,
    maxPermanentDelayMs: options.mailRetry?.permanentMaxMs,
    giveUpAfterMs: options.mailRetry?.giveUpAfterMs,
    leaseMs: options.mailLease?.leaseMs,
    pollMs: options.mailLease?.pollMs,
    metrics,
  });

  await estimatorReady;
  const app = createApp({ accounts, login, passwords, passkeys, sessions, tokens, twoFactor, accountDeletion, device, db, clock, publicUrl: deps.publicUrl, invalidations, metrics }, log, config.trustProxy);
  const server = createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await invalidations.close().catch(() => undefined);
    await closeWithin(db, 1_000);
    throw new StartError(listenFailure(error as NodeJS.ErrnoException, config));
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  const metricsListener = metrics && metricsServer(metrics, log);
  let metricsUrl: string | undefined;
  if (metricsListener) {
    try {
      await listen(metricsListener, config.metricsPort!, config.metricsHost);
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await invalidations.close().catch(() => undefined);
      await closeWithin(db, 1_000);
      throw new StartError(metricsListenFailure(error as NodeJS.ErrnoException, config));
    }
    metricsUrl = `${listeningUrl(metricsListener, config.metricsHost).url}/metrics`;
    log.info({ metricsUrl }, `metrics at ${metricsUrl}`);
  }
  publicUrl = config.publicUrl ?? url;
  sender.start();
  // Hourly: expired sessions, device codes and events past their 90 days.
  const sweep = setInterval(
    () => void Promise.all([sessions.deleteExpired(), tokens.deleteExpired(), twoFactor.deleteExpiredChallenges(), passkeys.deleteExpiredChallenges(), device.deleteExpired(), deleteOldEvents(db.knex, clock())]).catch(() => undefined),
    SWEEP_MS,
  );
  sweep.unref();
  const tokenNotices = setInterval(() => void tokens.noticeExpiring().catch((error: Error) => log.warn({ err: { message: error.message } }, 'token expiry notices failed')), TOKEN_NOTICE_MS);
  tokenNotices.unref();
  log.info({ url, dataDir: config.dataDir, mail: config.smtp ? describeSmtp(config.smtp) : 'outbox folder' }, `listening on ${url}`);
  log.flush();
  if (config.smtp) checkSmtpInBackground(transport, config, log, () => sender?.retryHeldMail('the SMTP check passed'));

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    metricsUrl,
    db,
    log,
    jobs: { noticeExpiringTokens: () => tokens.noticeExpiring() },
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        clearInterval(tokenNotices);
        clearInterval(logFlush);
        // Stop accepting, let requests in flight finish, drop idle keep-alive sockets.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const metricsClosed = metricsListener && new Promise<void>((resolve) => metricsListener.close(() => resolve()));
        metricsListener?.closeIdleConnections();
        await closed;
        await metricsClosed;
        // The pass in flight ends, then every kept SMTP connection says QUIT (bounded: a few seconds).
        await sender?.stop();
        await invalidations.close();
        await db.close();
        log.flush();
      })();
      return closing;
    },
  };
}

/** A start-up failure with a message fit for the operator (the cause is already in it). */
class StartError extends Error {}

function databaseFailure(error: unknown, url: string): StartError {
  const { code, message, name } = error as { code?: string; message?: string; name?: string };
  if (name === 'KnexTimeoutError') return new StartError(`cannot open the database ${databaseLabel(url)}: no answer within a few seconds (is the server up, and the host and port right?)`);
  const text = redact(String(message ?? error), []);
  return new StartError(`cannot open the database ${databaseLabel(url)}: ${code && !text.includes(code) ? `${code}: ` : ''}${text}`);
}

function listenFailure(error: NodeJS.ErrnoException, config: Config): string {
  if (error.code === 'EADDRINUSE') return `port ${config.port} is in use; pick another with --port or PORT`;
  if (error.code === 'EACCES') return `no permission to listen on port ${config.port} (ports below 1024 need privileges); pick another with --port or PORT`;
  if (error.code === 'EADDRNOTAVAIL') return `${config.host} is not an address of this machine; pick another with --host or HOST`;
  return `cannot listen on ${config.host}:${config.port}: ${error.message}`;
}

/**
 * Connects and logs in once, after the listening line: a clear warning early, never a reason to
 * stop. When it passes, `passed` tries held mail now (a restart after fixing the settings).
 */
function checkSmtpInBackground(transport: MailTransport, config: Config, log: Logger, passed: () => Promise<void> | undefined): void {
  const target = describeSmtp(config.smtp!);
  transport.verify().then(
    () => {
      log.info({ smtp: target }, `SMTP server ${config.smtp!.host}:${config.smtp!.port} answered${config.smtp!.user ? ' and accepted the login' : ''}`);
      passed()?.catch((error: Error) => log.warn({ err: { message: error.message } }, 'could not make held mail due'));
    },
    (error: unknown) => {
      const failure = error instanceof MailDeliveryError ? error : new MailDeliveryError(redact(String((error as Error)?.message ?? error), [config.smtp!.password]), false);
      log.warn(
        { smtp: target, reason: failure.reason, hint: failure.details.hint },
        `SMTP check failed: ${failure.reason}${failure.details.hint ? ` (${failure.details.hint})` : ''}; mail stays queued and is retried; try \`taskmasterd --check-mail ADDRESS\``,
      );
    },
  );
}

function metricsListenFailure(error: NodeJS.ErrnoException, config: Config): string {
  if (error.code === 'EADDRINUSE') return `METRICS_PORT ${config.metricsPort} is in use; pick another with --metrics-port or METRICS_PORT`;
  if (error.code === 'EACCES') return `no permission to listen on METRICS_PORT ${config.metricsPort} (ports below 1024 need privileges); pick another`;
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') return `${config.metricsHost} is not an address of this machine; pick another with --metrics-host or METRICS_HOST`;
  return `cannot listen on ${config.metricsHost}:${config.metricsPort} for the metrics: ${error.message}`;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function main(argv = process.argv.slice(2), env: Record<string, string | undefined> = process.env): Promise<void> {
  let result;
  try {
    result = readConfig(argv, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`taskmasterd: ${error.message}\nRun 'taskmasterd --help' for the options.\n`);
    process.exitCode = 2;
    return;
  }
  if (result.kind === 'help') return void process.stdout.write(`${DAEMON_HELP}\n`);
  if (result.kind === 'version') return void process.stdout.write(`${packageVersion()}\n`);
  if (result.kind === 'migrate') return migrateAndExit(result.config);
  if (result.kind === 'check-mail') return checkMailAndExit(result.config, result.to);
  if (result.kind === 'users-help') return void process.stdout.write(`${USERS_HELP}\n`);
  if (result.kind === 'users') return usersAndExit(result.config, result.users);

  let daemon: Daemon;
  try {
    daemon = await startDaemon(result.config);
  } catch (error) {
    const why = error instanceof StartError ? error.message : redact(String((error as Error)?.message ?? error), []);
    process.stderr.write(`taskmasterd: cannot start: ${why}\n`);
    // Exit now: a half-started daemon (a pool, a timer) must not keep the process alive, or a
    // supervisor would never see the failure.
    process.exit(1);
  }
  const stop = (signal: string) => {
    daemon.log.info(`${signal}: finishing requests in flight, then stopping`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void daemon.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
