// One benchmark target per process, driven by test/bench/run.ts over IPC:
//   bare                  a bare Koa app answering GET /v1/me with the same JSON as the daemon
//   daemon N COST [URL] [metrics]
//                         the built daemon (dist/) seeded with N verified users and sessions, on
//                         DATABASE_URL URL (default, or '': a fresh SQLite file of its own); with
//                         `metrics`, METRICS_PORT on (its /metrics URL is in the ready message)
//   bcrypt                raw bcrypt.compare / bcrypt.hash throughput on this process's thread pool,
//                         and the time of N sequential hashes
//   sender URL SMTP       one outbox sender (MailSender, as one daemon runs it) on database URL,
//                         delivering to SMTP; it starts a drain on {go} and stops on {halt}
//   sink                  a local SMTP receiver that counts messages and Message-IDs only
//   seed URL N COST       a helper: seeds database URL for `daemon`, in its own process
// It reports {ready, url, tokens, …} on start and answers {rss, eventLoop, cpuMs, statements, users},
// bcrypt results, {go}/{halt} to a sender and {sink-count}/{sink-reset} to the sink.
import { fork } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import Koa from 'koa';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { newAccessToken } from '../../server/contract/access-tokens.js';
import { hashPassword, newSessionToken, randomToken, sha256Hex } from '../../server/core/secrets.js';

type Message =
  | { type: 'stats' }
  | { type: 'reset-eventloop' }
  | { type: 'bcrypt'; op: 'compare' | 'hash'; cost: number; seconds: number; concurrency: number }
  | { type: 'bcrypt-sequential'; cost: number; count: number }
  | { type: 'go' }
  | { type: 'halt' }
  | { type: 'sink-count' }
  | { type: 'sink-reset' }
  | { type: 'stop' };

const send = (message: unknown) => process.send?.(message);
const eventLoop = monitorEventLoopDelay({ resolution: 1 });
eventLoop.enable();

export const SAMPLE_USER = {
  id: '00000000-0000-4000-8000-000000000000',
  username: 'sample',
  email: 'sample@example.com',
  emailVerified: true,
  pendingEmail: null,
  twoFactorEnabled: false,
  createdAt: '2026-11-24T00:00:00.000Z',
  updatedAt: '2026-11-24T00:00:00.000Z',
};

async function bare(): Promise<{ url: string }> {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = { user: SAMPLE_USER };
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}` });
    });
  });
}

const PASSWORD = 'correct-horse-battery-staple-42';

/**
 * Seeds verified users, each with one session, straight into the tables of a fresh database
 * (a `sqlite://` or `postgres://` URL), in its own process: the daemon then starts on the seeded
 * database as it would after growing to N users, without the heap a bulk insert leaves behind.
 */
/** The daemon targets' TOTP_ENCRYPTION_KEY: the seeder encrypts the two-factor secrets with it. */
const BENCH_TOTP_KEY = 'b'.repeat(64);
/** Past these, every other account has two-factor on (its secret known to the bench), so logins with and without a code pick from as many accounts, equally cold. */
const PLAIN_ACCOUNTS = 100;

type Seeded = { tokens: string[]; accessTokens: string[]; emails: string[]; twoFactor: { email: string; secret: string }[] };

async function seedDatabase(databaseUrl: string, seed: number, cost: number): Promise<Seeded> {
  const { openDatabase, migrateToLatest } = await import('../../db/connection.js');
  const db = openDatabase(databaseUrl);
  await migrateToLatest(db);
  const passwordHash = await hashPassword(PASSWORD, cost);
  const now = Date.now();
  const tokens: string[] = [];
  const accessTokens: string[] = [];
  const emails: string[] = [];
  const twoFactor: Seeded['twoFactor'] = [];
  const { encryptSecret } = await import('../../server/two-factor/cipher.js');
  const { Secret } = await import('otpauth');
  const totpKey = Buffer.from(BENCH_TOTP_KEY, 'hex');
  const sampleEvery = Math.max(1, Math.floor(seed / 1000));
  for (let start = 0; start < seed; start += 1000) {
    const users: Record<string, unknown>[] = [];
    const sessions: Record<string, unknown>[] = [];
    const grants: Record<string, unknown>[] = [];
    const totps: Record<string, unknown>[] = [];
    for (let i = start; i < Math.min(seed, start + 1000); i++) {
      const id = randomUUID();
      const email = `bench${i}@example.com`;
      // Past the first accounts, every other one has two-factor on: logins with a code are measured against logins without.
      const secret = i >= PLAIN_ACCOUNTS && i % 2 === 1 ? new Secret({ size: 20 }).base32 : undefined;
      users.push({ id, username: `bench${i}`, username_normalized: `bench${i}`, email, email_normalized: email, password_hash: passwordHash, email_verified_at: now, pending_email: null, created_at: now, updated_at: now, two_factor_at: secret ? now : null });
      if (secret) {
        totps.push({ user_id: id, secret_encrypted: encryptSecret(totpKey, id, secret), created_at: now, confirmed_at: now, last_step: null });
        if (twoFactor.length < 2000) twoFactor.push({ email, secret });
      }
      const token = newSessionToken(randomToken);
      sessions.push({ user_id: id, token_hash: sha256Hex(token), created_at: now, expires_at: now + 30 * 86_400_000 });
      if (i % sampleEvery === 0) {
        tokens.push(token);
        if (!secret) emails.push(email);
        // An access token beside each sampled session: read-only, bound to loopback, so its
        // scope and address checks are part of what a request costs.
        const accessToken = newAccessToken(randomInt);
        grants.push({ id: randomUUID(), user_id: id, name: 'bench', token_hash: sha256Hex(accessToken), prefix: accessToken.slice(0, 8), scopes: 'account:read', allowed_cidrs: '127.0.0.0/8', created_at: now, expires_at: now + 30 * 86_400_000 });
        accessTokens.push(accessToken);
      }
    }
    await db.knex.transaction(async (trx) => {
      await trx.batchInsert('users', users, 200);
      await trx.batchInsert('sessions', sessions, 500);
      await trx.batchInsert('access_tokens', grants, 500);
      await trx.batchInsert('totp_credentials', totps, 500);
    });
  }
  await db.knex.destroy();
  return { tokens, accessTokens, emails, twoFactor };
}

async function daemon(seed: number, cost: number, databaseUrl?: string, metrics = false): Promise<{ url: string; metricsUrl?: string | undefined } & Seeded> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-bench-'));
  const seedUrl = databaseUrl ?? `sqlite://${join(dataDir, 'taskmaster.sqlite3')}`;
  const seeded = await new Promise<Seeded>((resolve, reject) => {
    const seeder = fork(fileURLToPath(import.meta.url), ['seed', seedUrl, String(seed), String(cost)], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    seeder.once('message', (message) => resolve(message as never));
    seeder.once('exit', (code) => code !== 0 && reject(new Error(`seeding exited ${code}`)));
  });
  const { startDaemon } = (await import(new URL('../../dist/server/main.js', import.meta.url).href)) as typeof import('../../server/main.js');
  const { readConfig } = await import('../../server/core/config.js');
  const env = { PORT: '0', TASKMASTER_DATA_DIR: dataDir, BCRYPT_COST: String(cost), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', TOTP_ENCRYPTION_KEY: BENCH_TOTP_KEY, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...(metrics ? { METRICS_PORT: '0' } : {}) };
  const result = readConfig([], env);
  if (result.kind !== 'run') throw new Error('config');
  const unlimited = 1_000_000;
  const started = await startDaemon(result.config, {
    limits: { registrationsPerAddressPerHour: unlimited, loginFailuresPerAddressPerHour: unlimited, loginFailuresPerAccountPerHour: unlimited, loginFailuresPerAccountAndAddress: unlimited },
  });
  // Every statement the daemon sends its database (transaction BEGIN and COMMIT included).
  started.db.knex.on('query', () => statements++);
  countUsers = async () => {
    const row = await started.db.knex('users').count({ users: '*' }).first();
    statements--; // this count is the bench's, not the daemon's
    return Number(row?.users);
  };
  return { url: started.url, metricsUrl: started.metricsUrl, ...seeded };
}

let statements = 0;
let countUsers = async (): Promise<number | undefined> => undefined;

async function bcryptThroughput(op: 'compare' | 'hash', cost: number, seconds: number, concurrency: number): Promise<number> {
  const input = 'base64-of-an-hmac-sha256-prehash-44-chars=='; // what the daemon feeds bcrypt
  const hash = await bcrypt.hash(input, cost);
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        if (op === 'compare') await bcrypt.compare(input, hash);
        else await bcrypt.hash(input, cost);
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

/** CPU time this process has used since `since` (from process.cpuUsage()), in ms. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

interface SenderControl {
  go(): void;
  halt(): Promise<{ cpuMs: number }>;
}

/**
 * One outbox sender as a daemon runs it: the daemon's own MailSender and SMTP transport, with the
 * production lease and poll interval, in a process of its own. Each drain gets a new sender (a
 * stopped one stays stopped), started on {go}; the database pool stays open between drains.
 */
async function sender(databaseUrl: string, smtpUrl: string): Promise<SenderControl> {
  const { openDatabase } = await import('../../db/connection.js');
  const { readConfig } = await import('../../server/core/config.js');
  const { MailSender } = await import('../../server/mail/sender.js');
  const { smtpTransport } = await import('../../server/mail/transports.js');
  const result = readConfig([], { PORT: '0', TASKMASTER_DATA_DIR: mkdtempSync(join(tmpdir(), 'taskmaster-bench-sender-')), DATABASE_URL: databaseUrl, SMTP_URL: smtpUrl });
  if (result.kind !== 'run' || !result.config.smtp) throw new Error('config');
  const { smtp, mailFrom } = result.config;
  // BENCH_SMTP_POOL=N, an experiment: the drain as if server/mail/transports.ts kept N pooled SMTP
  // connections (nodemailer's pool: true) instead of opening one per mail.
  const pooled = Number(process.env.BENCH_SMTP_POOL ?? 0);
  if (pooled > 0) {
    const nodemailer = (await import('nodemailer')).default;
    const create = nodemailer.createTransport.bind(nodemailer) as (options: object) => unknown;
    (nodemailer as unknown as { createTransport: (options: object) => unknown }).createTransport = (options) => create({ ...options, pool: true, maxConnections: pooled });
  }
  const db = openDatabase(databaseUrl);
  await db.knex.raw('select 1');
  const log = pino({ level: 'warn', base: undefined }, pino.destination(2));
  let running: { sender: InstanceType<typeof MailSender>; cpu: NodeJS.CpuUsage } | undefined;
  return {
    go() {
      running = { sender: new MailSender(db, smtpTransport(smtp, mailFrom), log, { clock: Date.now }), cpu: process.cpuUsage() };
      running.sender.start();
    },
    async halt() {
      if (!running) return { cpuMs: 0 };
      await running.sender.stop();
      const cpuMs = cpuMsSince(running.cpu);
      running = undefined;
      return { cpuMs };
    },
  };
}

interface SinkCount {
  received: number;
  /** Distinct Message-IDs among them; received − unique are duplicates. */
  unique: number;
  withoutMessageId: number;
  connections: number;
  cpuMs: number;
}

/**
 * A local SMTP receiver that keeps only what the drain is judged on: how many messages arrived,
 * over how many connections, and their Message-IDs (read from the header; bodies are not parsed).
 */
async function sink(): Promise<{ url: string; count(): SinkCount; reset(): void }> {
  let messageIds = new Set<string>();
  let received = 0;
  let withoutMessageId = 0;
  let connections = 0;
  let cpu = process.cpuUsage();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    // A sink on loopback: no reverse DNS lookup of 127.0.0.1 per connection.
    disableReverseLookup: true,
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, _session, callback) {
      let head = '';
      let headDone = false;
      stream.on('data', (chunk: Buffer) => {
        if (headDone) return;
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) {
          head = head.slice(0, end);
          headDone = true;
        }
      });
      stream.on('end', () => {
        received++;
        const messageId = /^message-id:[ \t]*(\S+)/im.exec(head)?.[1];
        if (messageId) messageIds.add(messageId);
        else withoutMessageId++;
        callback();
      });
    },
  });
  server.on('error', () => undefined); // a sender stopped mid-session is not the sink's problem
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    count: () => ({ received, unique: messageIds.size, withoutMessageId, connections, cpuMs: cpuMsSince(cpu) }),
    reset() {
      messageIds = new Set();
      received = withoutMessageId = connections = 0;
      cpu = process.cpuUsage();
    },
  };
}

const [mode = 'bare', ...rest] = process.argv.slice(2);
if (mode === 'seed') {
  const [databaseUrl = '', seedText = '0', costText = '4'] = rest;
  const seeded = await seedDatabase(databaseUrl, Number(seedText), Number(costText));
  // Exit once the message is out: a large one (100,000 users' samples) was cut off by an exit right
  // after send(), and the daemon target then waited for it forever (exit code 13).
  process.send?.(seeded, () => process.exit(0));
}
let drainSender: SenderControl | undefined;
let drainSink: Awaited<ReturnType<typeof sink>> | undefined;
let ready: object = {};
if (mode === 'daemon') {
  const [seedText = '0', costText = '4', databaseUrl, ...flags] = rest;
  ready = await daemon(Number(seedText), Number(costText), databaseUrl || undefined, flags.includes('metrics'));
} else if (mode === 'bare') {
  ready = await bare();
} else if (mode === 'sender') {
  const [databaseUrl = '', smtpUrl = ''] = rest;
  drainSender = await sender(databaseUrl, smtpUrl);
} else if (mode === 'sink') {
  drainSink = await sink();
  ready = { url: drainSink.url };
}
send({ type: 'ready', ...ready, password: PASSWORD });

process.on('message', async (message: Message) => {
  if (message.type === 'stats') {
    const users = await countUsers();
    const { rss, heapUsed } = process.memoryUsage();
    const cpuMs = cpuMsSince({ user: 0, system: 0 });
    send({ type: 'stats', rss, heapUsed, eventLoopMaxMs: eventLoop.max / 1e6, eventLoopP99Ms: eventLoop.percentile(99) / 1e6, cpuMs, statements, users });
  } else if (message.type === 'reset-eventloop') {
    eventLoop.reset();
    send({ type: 'reset' });
  } else if (message.type === 'bcrypt') {
    send({ type: 'bcrypt', perSecond: await bcryptThroughput(message.op, message.cost, message.seconds, message.concurrency) });
  } else if (message.type === 'bcrypt-sequential') {
    const started = performance.now();
    for (let i = 0; i < message.count; i++) await bcrypt.hash(`base64-of-an-hmac-sha256-prehash-${i}`, message.cost);
    send({ type: 'bcrypt-sequential', ms: performance.now() - started });
  } else if (message.type === 'go') {
    drainSender?.go();
    send({ type: 'going' });
  } else if (message.type === 'halt') {
    send({ type: 'halted', ...(await drainSender?.halt()) });
  } else if (message.type === 'sink-count') {
    send({ type: 'sink-count', ...drainSink?.count() });
  } else if (message.type === 'sink-reset') {
    drainSink?.reset();
    send({ type: 'sink-reset' });
  } else if (message.type === 'stop') {
    process.exit(0);
  }
});
