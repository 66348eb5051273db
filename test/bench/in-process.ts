// GET /v1/me's CPU time per request with no sockets and no HTTP parsing: the daemon's request
// listener is called in-process, on http.IncomingMessage and ServerResponse over a socket that
// discards what is written, 20 requests in flight, next to bare Koa answering the same JSON. Far
// steadier than req/s on a shared machine (autocannon and the neighbours take no part), so it is
// what docs/performance.md's "layer by layer" table is measured with: to price a layer, take it out
// in a scratch copy of the tree, build it, and pass that copy too.
//
//   node --import tsx test/bench/in-process.ts [CHECKOUT …]
//
// Each CHECKOUT is a built tree (default: this one); each runs in a process of its own, seeded with
// 1,000 users and sessions by its own test/bench/target.ts, with its clock frozen so the credential
// cache never expires (its refreshes are a cost of their own, measured over HTTP by run.ts).
// Rounds alternate; BENCH_ROUNDS (11) rounds of BENCH_BATCH (3000) requests; medians and quartiles.
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Duplex } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Koa from 'koa';

const HERE = fileURLToPath(import.meta.url);
const THIS_TREE = fileURLToPath(new URL('../..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const BATCH = Number(process.env.BENCH_BATCH ?? 3000);
const IN_FLIGHT = 20;
const SAMPLE_USER = { id: '00000000-0000-4000-8000-000000000000', username: 'sample', email: 'sample@example.com', emailVerified: true, pendingEmail: null, createdAt: '2026-11-24T00:00:00.000Z', updatedAt: '2026-11-24T00:00:00.000Z' };

type Listener = (request: http.IncomingMessage, response: http.ServerResponse) => void;

/** A socket that takes whatever the response writes and forgets it. */
class NullSocket extends Duplex {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: unknown, done: () => void): void {
    done();
  }
  override _writev(_chunks: unknown, done: () => void): void {
    done();
  }
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

function get(socket: NullSocket, listener: Listener, token: string): Promise<number> {
  const request = new http.IncomingMessage(socket as never);
  Object.assign(request, { method: 'GET', url: '/v1/me', httpVersion: '1.1', httpVersionMajor: 1, httpVersionMinor: 1 });
  request.headers = { host: '127.0.0.1:4000', authorization: `Bearer ${token}`, 'user-agent': 'bench' };
  request.rawHeaders = ['Host', '127.0.0.1:4000', 'Authorization', `Bearer ${token}`, 'User-Agent', 'bench'];
  request.push(null);
  const response = new http.ServerResponse(request);
  response.assignSocket(socket as never);
  return new Promise((done) => {
    response.on('finish', () => {
      response.detachSocket(socket as never);
      done(response.statusCode);
    });
    listener(request, response);
  });
}

/** CPU µs per request (every thread) over `count` requests, IN_FLIGHT at a time. */
async function batch(listener: Listener, tokens: string[], count: number): Promise<number> {
  const before = process.cpuUsage();
  let left = count;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      const socket = new NullSocket();
      while (left-- > 0) {
        const status = await get(socket, listener, tokens[Math.floor(Math.random() * tokens.length)]!);
        if (status !== 200) throw new Error(`GET /v1/me answered ${status}`);
      }
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

/** In a child: bare Koa, or the daemon of the built tree at `tree`, captured as it creates its server. */
async function listen(tree: string | undefined): Promise<{ listener: Listener; tokens: string[] }> {
  if (!tree) {
    const app = new Koa();
    app.use((ctx) => {
      ctx.body = { user: SAMPLE_USER };
    });
    return { listener: app.callback() as Listener, tokens: [`tm_${'x'.repeat(43)}`] };
  }
  let captured: Listener | undefined;
  const createServer = http.createServer;
  (http as { createServer: unknown }).createServer = (...args: unknown[]) => {
    captured = args.find((arg) => typeof arg === 'function') as Listener;
    return (createServer as (...a: unknown[]) => http.Server)(...args);
  };
  syncBuiltinESMExports();
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-bench-in-process-'));
  const databaseUrl = `sqlite://${join(dataDir, 'taskmaster.sqlite3')}`;
  const seeded = await new Promise<{ tokens: string[] }>((done, fail) => {
    const seeder = fork(join(tree, 'test/bench/target.ts'), ['seed', databaseUrl, '1000', '4'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    seeder.once('message', (message) => done(message as { tokens: string[] }));
    seeder.once('exit', (code) => code !== 0 && fail(new Error(`seeding exited ${code}`)));
  });
  const { startDaemon } = (await import(pathToFileURL(join(tree, 'dist/server/main.js')).href)) as typeof import('../../server/main.js');
  const { readConfig } = (await import(pathToFileURL(join(tree, 'server/core/config.ts')).href)) as typeof import('../../server/core/config.js');
  // target.ts's settings: its TOTP key, throttles lifted; the clock frozen so cached entries stay.
  const config = readConfig([], { PORT: '0', TASKMASTER_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, BCRYPT_COST: '4', LOG_LEVEL: 'info', TOTP_ENCRYPTION_KEY: 'b'.repeat(64) });
  if (config.kind !== 'run') throw new Error('config');
  const now = Date.now();
  const unlimited = 1_000_000;
  await startDaemon(config.config, {
    clock: () => now,
    limits: { registrationsPerAddressPerHour: unlimited, loginFailuresPerAddressPerHour: unlimited, loginFailuresPerAccountPerHour: unlimited, loginFailuresPerAccountAndAddress: unlimited },
  });
  if (!captured) throw new Error('the daemon created no server');
  return { listener: captured, tokens: seeded.tokens };
}

if (process.env.BENCH_IN_PROCESS_TREE !== undefined) {
  const { listener, tokens } = await listen(process.env.BENCH_IN_PROCESS_TREE || undefined);
  await batch(listener, tokens, 5000); // warm-up
  process.on('message', async (message: { count: number }) => {
    if (message.count === 0) process.exit(0);
    process.send!({ us: await batch(listener, tokens, message.count) });
  });
  process.send!({ ready: true });
} else {
  const trees = process.argv.length > 2 ? process.argv.slice(2).map((tree) => resolve(tree)) : [THIS_TREE];
  const variants = [{ name: 'bare Koa', tree: '' }, ...trees.map((tree) => ({ name: tree, tree }))];
  const children = await Promise.all(
    variants.map(async (variant) => {
      const child = fork(HERE, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_IN_PROCESS_TREE: variant.tree }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      await new Promise((done) => child.once('message', done));
      return { ...variant, child, times: [] as number[] };
    }),
  );
  const ask = (child: (typeof children)[number]['child'], count: number) =>
    new Promise<number>((done) => {
      child.once('message', (message: { us: number }) => done(message.us));
      child.send({ count });
    });
  for (let round = 0; round < ROUNDS; round++) {
    for (const each of round % 2 ? [...children].reverse() : children) each.times.push(await ask(each.child, BATCH));
  }
  const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.round((values.length - 1) * q)]!;
  console.log(`GET /v1/me, CPU per request in-process, ${ROUNDS} alternating rounds of ${BATCH} requests (median, quartiles):`);
  for (const { name, times } of children) console.log(`  ${quantile(times, 0.5).toFixed(1).padStart(6)} µs  (${quantile(times, 0.25).toFixed(1)}–${quantile(times, 0.75).toFixed(1)})  ${name}`);
  for (const { child } of children) child.send({ count: 0 });
}
