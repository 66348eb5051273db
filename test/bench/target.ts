// One benchmark target per process, driven by test/bench/run.ts over IPC:
//   bare            a bare Koa app answering GET /v1/me with the same JSON as the daemon
//   daemon          the built daemon (dist/), optionally seeded with N verified users and sessions
//   bcrypt          raw bcrypt.compare / bcrypt.hash throughput on this process's thread pool
//   seed DIR N COST a helper: seeds a fresh database for `daemon`, in its own process
// It reports {ready, url, tokens, …} on start and answers {rss, eventLoop} or bcrypt results.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import Koa from 'koa';
import { hashPassword, newSessionToken, randomToken, sha256Hex } from '../../server/secrets.js';

type Message = { type: 'stats' } | { type: 'reset-eventloop' } | { type: 'bcrypt'; op: 'compare' | 'hash'; cost: number; seconds: number; concurrency: number } | { type: 'stop' };

const send = (message: unknown) => process.send?.(message);
const eventLoop = monitorEventLoopDelay({ resolution: 1 });
eventLoop.enable();

export const SAMPLE_USER = {
  id: '00000000-0000-4000-8000-000000000000',
  username: 'sample',
  email: 'sample@example.com',
  emailVerified: true,
  pendingEmail: null,
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
 * Seeds verified users, each with one session, straight into the tables of a fresh database, in
 * its own process: the daemon then starts on the seeded file as it would after growing to N users,
 * without the heap a bulk insert leaves behind.
 */
async function seedDatabase(dataDir: string, seed: number, cost: number): Promise<{ tokens: string[]; emails: string[] }> {
  const { openDatabase, migrateToLatest } = await import('../../db/connection.js');
  const db = openDatabase(`sqlite://${join(dataDir, 'taskmaster.sqlite3')}`);
  await migrateToLatest(db);
  const passwordHash = await hashPassword(PASSWORD, cost);
  const now = Date.now();
  const tokens: string[] = [];
  const emails: string[] = [];
  const sampleEvery = Math.max(1, Math.floor(seed / 1000));
  for (let start = 0; start < seed; start += 1000) {
    const users: Record<string, unknown>[] = [];
    const sessions: Record<string, unknown>[] = [];
    for (let i = start; i < Math.min(seed, start + 1000); i++) {
      const id = randomUUID();
      const email = `bench${i}@example.com`;
      users.push({ id, username: `bench${i}`, username_normalized: `bench${i}`, email, email_normalized: email, password_hash: passwordHash, email_verified_at: now, pending_email: null, created_at: now, updated_at: now });
      const token = newSessionToken(randomToken);
      sessions.push({ user_id: id, token_hash: sha256Hex(token), created_at: now, expires_at: now + 30 * 86_400_000 });
      if (i % sampleEvery === 0) {
        tokens.push(token);
        emails.push(email);
      }
    }
    await db.knex.transaction(async (trx) => {
      await trx.batchInsert('users', users, 200);
      await trx.batchInsert('sessions', sessions, 500);
    });
  }
  await db.knex.destroy();
  return { tokens, emails };
}

async function daemon(seed: number, cost: number): Promise<{ url: string; tokens: string[]; emails: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-bench-'));
  const seeded = await new Promise<{ tokens: string[]; emails: string[] }>((resolve, reject) => {
    const seeder = fork(fileURLToPath(import.meta.url), ['seed', dataDir, String(seed), String(cost)], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    seeder.once('message', (message) => resolve(message as never));
    seeder.once('exit', (code) => code !== 0 && reject(new Error(`seeding exited ${code}`)));
  });
  const { startDaemon } = (await import(new URL('../../dist/server/main.js', import.meta.url).href)) as typeof import('../../server/main.js');
  const { readConfig } = await import('../../server/config.js');
  const result = readConfig([], { PORT: '0', TASKMASTER_DATA_DIR: dataDir, BCRYPT_COST: String(cost), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' });
  if (result.kind !== 'run') throw new Error('config');
  const unlimited = 1_000_000;
  const started = await startDaemon(result.config, {
    limits: { registrationsPerAddressPerHour: unlimited, loginFailuresPerAddressPerHour: unlimited, loginFailuresPerAccountPerHour: unlimited, loginFailuresPerAccountAndAddress: unlimited },
  });
  return { url: started.url, ...seeded };
}

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

const [mode = 'bare', ...rest] = process.argv.slice(2);
if (mode === 'seed') {
  const [dataDir = '', seedText = '0', costText = '4'] = rest;
  send(await seedDatabase(dataDir, Number(seedText), Number(costText)));
  process.exit(0);
}
const [seedText = '0', costText = '4'] = rest;
const ready = mode === 'daemon' ? await daemon(Number(seedText), Number(costText)) : mode === 'bare' ? await bare() : {};
send({ type: 'ready', ...ready, password: PASSWORD });

process.on('message', async (message: Message) => {
  if (message.type === 'stats') {
    send({ type: 'stats', rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed, eventLoopMaxMs: eventLoop.max / 1e6, eventLoopP99Ms: eventLoop.percentile(99) / 1e6 });
  } else if (message.type === 'reset-eventloop') {
    eventLoop.reset();
    send({ type: 'reset' });
  } else if (message.type === 'bcrypt') {
    send({ type: 'bcrypt', perSecond: await bcryptThroughput(message.op, message.cost, message.seconds, message.concurrency) });
  } else if (message.type === 'stop') {
    process.exit(0);
  }
});
