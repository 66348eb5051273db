// The daemon: configuration → database → app → listen → graceful shutdown.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { openInvalidationChannel } from '../db/channel.js';
import { migrateToLatest, openDatabase, type Database } from '../db/connection.js';
import { Accounts } from './accounts.js';
import { createApp } from './app.js';
import { ConfigError, DAEMON_HELP, readConfig, type Config } from './config.js';
import { MailSender } from './mail/sender.js';
import { outboxFolderTransport, smtpTransport, type MailTransport } from './mail/transports.js';
import { randomToken, type RandomToken } from './secrets.js';
import { SessionStore } from './sessions.js';
import { DEFAULT_LIMITS, Throttle, type ThrottleLimits } from './throttle.js';
import { packageVersion } from './version.js';

/** What tests and benchmarks may replace; the defaults are what production runs. */
export interface StartOptions {
  clock?: () => number;
  random?: RandomToken;
  limits?: Partial<ThrottleLimits>;
  mailRetry?: { baseMs: number; maxMs: number };
  /** The outbox lease and poll interval (see server/mail/sender.ts). */
  mailLease?: { leaseMs: number; pollMs: number };
  log?: Logger;
}

export interface Daemon {
  url: string;
  port: number;
  db: Database;
  log: Logger;
  close(): Promise<void>;
}

const EXPIRED_SESSION_SWEEP_MS = 60 * 60 * 1000;
const LOG_BATCH_BYTES = 4096;
const LOG_FLUSH_MS = 500;

export async function startDaemon(config: Config, options: StartOptions = {}): Promise<Daemon> {
  const log = options.log ?? pino({ level: config.logLevel, base: undefined }, pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES }));
  // Lines are written in batches (a write per request cost ~15% of throughput); none waits long.
  const logFlush = setInterval(() => log.flush(), LOG_FLUSH_MS);
  logFlush.unref();
  if (config.bcryptCost < 10) log.warn(`BCRYPT_COST=${config.bcryptCost} is below 10: acceptable in tests only`);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const db = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.close();
    throw error;
  }

  const clock = options.clock ?? Date.now;
  let publicUrl = config.publicUrl ?? '';
  let sender: MailSender | undefined;
  let sessions: SessionStore | undefined;
  const invalidations = openInvalidationChannel(
    db,
    { message: (payload) => sessions?.invalidated(payload), reset: () => sessions?.dropCaches() },
    (error) => log.warn({ err: { message: error.message } }, 'cache invalidation channel lost; serving without the cache until it is back'),
  );
  const deps = {
    db,
    clock,
    random: options.random ?? randomToken,
    bcryptCost: config.bcryptCost,
    publicUrl: () => publicUrl,
    mailQueued: () => sender?.kick(),
    throttle: new Throttle(db, { ...DEFAULT_LIMITS, ...options.limits }),
    invalidations,
    log,
  };
  sessions = new SessionStore(deps);
  const accounts = new Accounts(deps, sessions);
  const transport: MailTransport = config.smtpUrl
    ? smtpTransport(config.smtpUrl, config.mailFrom)
    : outboxFolderTransport(join(config.dataDir, 'outbox'), config.mailFrom, log);
  sender = new MailSender(db, transport, log, {
    clock,
    baseRetryDelayMs: options.mailRetry?.baseMs,
    maxRetryDelayMs: options.mailRetry?.maxMs,
    leaseMs: options.mailLease?.leaseMs,
    pollMs: options.mailLease?.pollMs,
  });

  const app = createApp({ accounts, sessions, db }, log, config.trustProxy);
  const server = createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await invalidations.close();
    await db.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  publicUrl = config.publicUrl ?? url;
  sender.start();
  const sweep = setInterval(() => void sessions.deleteExpired().catch(() => undefined), EXPIRED_SESSION_SWEEP_MS);
  sweep.unref();
  log.info({ url, dataDir: config.dataDir, mail: config.smtpUrl ? 'smtp' : 'outbox folder' }, `listening on ${url}`);
  log.flush();

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    db,
    log,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        clearInterval(logFlush);
        // Stop accepting, let requests in flight finish, drop idle keep-alive sockets.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
        await sender?.stop();
        await invalidations.close();
        await db.close();
        log.flush();
      })();
      return closing;
    },
  };
}

/** `taskmasterd migrate`: applies pending migrations and exits (0 done, 1 failed). */
async function migrateAndExit(config: Config): Promise<void> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const db = openDatabase(config.databaseUrl);
  try {
    const applied = (await migrateToLatest(db)).length;
    process.stdout.write(applied > 0 ? `applied ${applied} migration${applied === 1 ? '' : 's'}; the database is up to date\n` : 'the database is up to date\n');
  } catch (error) {
    process.stderr.write(`taskmasterd: migrate failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
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

  let daemon: Daemon;
  try {
    daemon = await startDaemon(result.config);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const why = code === 'EADDRINUSE' ? `port ${result.config.port} is in use; pick another with --port or PORT` : message;
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
