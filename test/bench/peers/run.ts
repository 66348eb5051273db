// `npm run bench:peers`: taskmasterd next to what a user would pick instead, the same work measured
// side by side in one run. The peers live in this folder's own package.json and lockfile, installed
// here (npm ci, once per lockfile), never in the project's dependencies. Every server is a child
// process on 127.0.0.1: ours through ../target.ts (the built daemon on SQLite), better-auth through
// better-auth.mjs (email and password on SQLite, better-sqlite3), and express 5 + passport-local +
// express-session through express-passport.mjs (sessions in SQLite through connect-sqlite3). Load
// runs alternate and each figure is the median of its rounds; what each does with a revoked session
// is checked, not taken from docs.
// Prints the table and writes bench-results/peers.json. BENCH_SECONDS sets each load run (default 10).
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { threadPoolSizeFor } from '../../../server/core/secrets.js';

const PEERS = fileURLToPath(new URL('.', import.meta.url));
const TARGET = fileURLToPath(new URL('../target.ts', import.meta.url));
const BETTER_AUTH = join(PEERS, 'better-auth.mjs');
const EXPRESS = join(PEERS, 'express-passport.mjs');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = 3;
const USERS = 1000;
/** The cookie cache lifetime: better-auth's default and its docs' example (5 minutes). */
const CACHE_SECONDS = 300;
const COST = 12;
const SESSION_CONNECTIONS = 20;
const SIGN_IN_CONNECTIONS = 8;
/**
 * A sign-in run is a number of sign-ins, not a time: every one it starts finishes inside it, so the
 * CPU it cost is counted whole (about BENCH_SECONDS on two idle cores at bcrypt cost 12).
 */
const SIGN_INS_PER_RUN = SIGN_IN_CONNECTIONS * SECONDS;

/** Whether node_modules holds exactly what package-lock.json lists (npm's own record of what it installed). */
function installedFromLockfile(): boolean {
  const installed = join(PEERS, 'node_modules', '.package-lock.json');
  const addons = [join('better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), join('sqlite3', 'build', 'Release', 'node_sqlite3.node')];
  if (!existsSync(installed) || !addons.every((addon) => existsSync(join(PEERS, 'node_modules', addon)))) return false;
  type Entry = { version?: string; integrity?: string; optional?: boolean };
  const locked = (JSON.parse(readFileSync(join(PEERS, 'package-lock.json'), 'utf8')) as { packages: Record<string, Entry> }).packages;
  const present = (JSON.parse(readFileSync(installed, 'utf8')) as { packages: Record<string, Entry> }).packages;
  const declared = (JSON.parse(readFileSync(join(PEERS, 'package.json'), 'utf8')) as { dependencies: object }).dependencies;
  if (JSON.stringify((locked[''] as { dependencies?: object } | undefined)?.dependencies) !== JSON.stringify(declared)) return false;
  for (const [path, entry] of Object.entries(locked)) {
    if (path === '') continue;
    const found = present[path];
    if (!found) {
      if (entry.optional) continue; // another platform's optional package, never installed here
      return false;
    }
    if (found.version !== entry.version || found.integrity !== entry.integrity) return false;
  }
  return Object.keys(present).every((path) => path in locked);
}

function installPeers(): void {
  if (installedFromLockfile()) return;
  console.error('installing the peers: npm ci in test/bench/peers (once; better-sqlite3 and sqlite3 may compile SQLite for a few minutes)');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`npm ci in ${PEERS} exited ${result.status}`);
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

interface Server<Ready> {
  ready: Ready;
  ask<T>(message: object, reply: string): Promise<T>;
  stop(): void;
}

/** Every server gets the thread pool bin/taskmasterd gives the daemon, and runs as in production. */
const childEnv = { ...process.env, NODE_ENV: 'production', UV_THREADPOOL_SIZE: String(threadPoolSizeFor(availableParallelism())) };

async function start<Ready>(module: string, args: string[], execArgv: string[]): Promise<Server<Ready>> {
  const child = fork(module, args, { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: childEnv });
  children.add(child);
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Ready));
    child.once('exit', (code) => reject(new Error(`${module} ${args.join(' ')} exited ${code}`)));
  });
  return {
    ready,
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
  };
}

interface OursReady {
  url: string;
  tokens: string[];
  emails: string[];
  password: string;
}
interface PeerReady {
  url: string;
  cookies: string[];
  emails: string[];
  revocationEmails: string[];
  password: string;
  cookieNames: { session: string; cache: string };
}
interface ExpressReady {
  url: string;
  cookies: string[];
  emails: string[];
  revocationEmails: string[];
  password: string;
}
type Stats = { cpuMs: number; statements: number };

function pick<T>(values: T[]): T {
  return values[Math.floor(Math.random() * values.length)]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A load run's length: BENCH_SECONDS unless given (`amount` for a warm-up of so many requests). */
type Run = { duration?: number; amount?: number };

interface Measured {
  rate: number;
  /** Per request, in the server's process: CPU time (every thread) and SQL statements. */
  cpuMs: number;
  statements: number;
}

/**
 * One load run against a server, with its cost per request read from the server before and after.
 * Every answer is checked (`accepted`), so a session that stopped counting cannot pass as a fast one.
 */
async function measure(server: Server<unknown>, options: autocannon.Options & { accepted: (status: number, body: string) => boolean }): Promise<Measured> {
  const { accepted, ...load } = options;
  let refused = 0;
  const requests = (load.requests ?? []).map((request) => ({ ...request, onResponse: (status: number, body: string) => void (accepted(status, body) || refused++) }));
  const before = await server.ask<Stats>({ type: 'stats' }, 'stats');
  // autocannon notices the end of a run on its next sample: every 100 ms, not every second, so a
  // run of a number of requests is not counted up to a second longer than it took.
  const result = await autocannon({ duration: SECONDS, sampleInt: 100, ...load, requests });
  const after = await server.ask<Stats>({ type: 'stats' }, 'stats');
  if (refused > 0 || result.errors > 0) throw new Error(`${load.url}${load.requests?.[0]?.path}: ${refused} answers refused, ${result.errors} errors`);
  const count = result.requests.total;
  if (count === 0) throw new Error(`${load.url}${load.requests?.[0]?.path}: no answer in ${result.duration} s`);
  return { rate: count / (result.duration || SECONDS), cpuMs: (after.cpuMs - before.cpuMs) / count, statements: (after.statements - before.statements) / count };
}

/**
 * Waits until the server has finished the requests a load run left behind (a sign-in abandoned by
 * autocannon still runs its hash): less than 5% of a core for two quarter-seconds in a row, 30 s at most.
 */
async function settle(server: Server<unknown>): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = await server.ask<Stats>({ type: 'stats' }, 'stats');
  for (let quiet = 0; quiet < 2 && Date.now() < deadline; ) {
    await sleep(250);
    const now = await server.ask<Stats>({ type: 'stats' }, 'stats');
    quiet = now.cpuMs - last.cpuMs < 12.5 ? quiet + 1 : 0;
    last = now;
  }
}

function medianOf(runs: Measured[]): Measured & { runs: Measured[] } {
  return { rate: median(runs.map((run) => run.rate)), cpuMs: median(runs.map((run) => run.cpuMs)), statements: median(runs.map((run) => run.statements)), runs };
}

const isSession = (status: number, body: string) => status === 200 && body.startsWith('{"session":{');

// --- the session check: GET /v1/me against get-session --------------------------------------------

function oursMe(ours: Server<OursReady>, tokens: string[], run: Run = {}): Promise<Measured> {
  return measure(ours, {
    url: ours.ready.url,
    connections: SESSION_CONNECTIONS,
    ...run,
    requests: [{ method: 'GET', path: '/v1/me', setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${pick(tokens)}` } }) }],
    accepted: (status) => status === 200,
  });
}

async function peerGetSession(peer: Server<PeerReady>, run: Run = {}): Promise<Measured> {
  // Fresh cookies for every run: a cache cookie carries its own expiry, and an expired one would
  // quietly turn the cached figure into a database one.
  const { cookies } = await peer.ask<{ cookies: string[] }>({ type: 'cookies' }, 'cookies');
  return measure(peer, {
    url: peer.ready.url,
    connections: SESSION_CONNECTIONS,
    ...run,
    requests: [{ method: 'GET', path: '/api/auth/get-session', setupRequest: (request) => ({ ...request, headers: { cookie: pick(cookies) } }) }],
    accepted: isSession,
  });
}

/** express-session: GET /me with a seeded session's cookie (passport reads the session from the store). */
function expressMe(peer: Server<ExpressReady>, run: Run = {}): Promise<Measured> {
  return measure(peer, {
    url: peer.ready.url,
    connections: SESSION_CONNECTIONS,
    ...run,
    requests: [{ method: 'GET', path: '/me', setupRequest: (request) => ({ ...request, headers: { cookie: pick(peer.ready.cookies) } }) }],
    accepted: (status, body) => status === 200 && body.startsWith('{"user":{'),
  });
}

/** Without credentials: GET /v1/me with no token (401) against get-session with no cookie (200, body null). */
function oursAnonymous(ours: Server<OursReady>, run: Run = {}): Promise<Measured> {
  return measure(ours, { url: ours.ready.url, connections: SESSION_CONNECTIONS, ...run, requests: [{ method: 'GET', path: '/v1/me' }], accepted: (status) => status === 401 });
}

function peerAnonymous(peer: Server<PeerReady>, run: Run = {}): Promise<Measured> {
  return measure(peer, { url: peer.ready.url, connections: SESSION_CONNECTIONS, ...run, requests: [{ method: 'GET', path: '/api/auth/get-session' }], accepted: (status, body) => status === 200 && body === 'null' });
}

// --- sign-in: POST /v1/sessions against POST /api/auth/sign-in/email --------------------------------

function oursLogin(ours: Server<OursReady>, emails: string[], run: Run = {}): Promise<Measured> {
  return measure(ours, {
    url: ours.ready.url,
    connections: SIGN_IN_CONNECTIONS,
    ...run,
    requests: [
      {
        method: 'POST',
        path: '/v1/sessions',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ email: pick(emails), password: ours.ready.password }) }),
      },
    ],
    accepted: (status) => status === 201,
  });
}

function peerSignIn(peer: Server<PeerReady>, run: Run = {}): Promise<Measured> {
  return measure(peer, {
    url: peer.ready.url,
    connections: SIGN_IN_CONNECTIONS,
    ...run,
    requests: [
      {
        method: 'POST',
        path: '/api/auth/sign-in/email',
        // A browser sends its Origin with the POST; better-auth refuses a sign-in without one in production.
        headers: { 'content-type': 'application/json', origin: peer.ready.url },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ email: pick(peer.ready.emails), password: peer.ready.password }) }),
      },
    ],
    accepted: (status, body) => status === 200 && body.includes('"token":'),
  });
}

function expressLogin(peer: Server<ExpressReady>, run: Run = {}): Promise<Measured> {
  return measure(peer, {
    url: peer.ready.url,
    connections: SIGN_IN_CONNECTIONS,
    ...run,
    requests: [
      {
        method: 'POST',
        path: '/login',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ email: pick(peer.ready.emails), password: peer.ready.password }) }),
      },
    ],
    accepted: (status, body) => status === 200 && body.startsWith('{"user":{'),
  });
}

// --- revocation, measured -------------------------------------------------------------------------

type Revocation = {
  how: 'revoked from another client' | 'signed out, the old cookie replayed' | 'logged out, the old token replayed' | 'logged out, the old cookie replayed';
  /** Whether the database still holds the session right after the revocation (it must not). */
  storedAfter: boolean;
  /** Answers with the session after the revocation was acknowledged, and the last one's time. */
  answeredAfter: number;
  lastAnsweredSeconds: number | null;
  /** When the first refusal came, seconds after the revocation (null: not within the watch). */
  refusedAfterSeconds: number | null;
  /** Peer with its cookie cache: how long the cache cookie had left when the session was revoked. */
  cacheLeftSeconds?: number;
};

/** Asks `answers()` once a second until it stops answering with the session, at most `limitSeconds`. */
async function watch(answers: () => Promise<boolean>, limitSeconds: number): Promise<Omit<Revocation, 'how' | 'storedAfter' | 'cacheLeftSeconds'>> {
  const revokedAt = Date.now();
  let answeredAfter = 0;
  let lastAnsweredSeconds: number | null = null;
  while (Date.now() - revokedAt < limitSeconds * 1000) {
    const askedAt = Date.now();
    if (!(await answers())) return { answeredAfter, lastAnsweredSeconds, refusedAfterSeconds: (askedAt - revokedAt) / 1000 };
    answeredAfter++;
    lastAnsweredSeconds = (askedAt - revokedAt) / 1000;
    await sleep(Math.max(0, 1000 - (Date.now() - askedAt)));
  }
  return { answeredAfter, lastAnsweredSeconds, refusedAfterSeconds: null };
}

/** Ours: log in, GET /v1/me, end that session (from a second login, or its own logout), GET /v1/me again. */
async function oursRevocation(ours: Server<OursReady>, email: string, how: 'other' | 'self'): Promise<Revocation> {
  const { url, password } = ours.ready;
  const login = async () => {
    const response = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    if (response.status !== 201) throw new Error(`login: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { token: string }).token;
  };
  const me = async (token: string) => (await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  const token = await login();
  if ((await me(token)) !== 200) throw new Error('ours: a fresh session is not accepted');
  let stored: boolean;
  if (how === 'other') {
    const other = await login();
    const ended = await fetch(`${url}/v1/sessions?scope=others`, { method: 'DELETE', headers: { authorization: `Bearer ${other}` } });
    if (!ended.ok) throw new Error(`ours: DELETE /v1/sessions?scope=others ${ended.status}`);
    const listed = (await (await fetch(`${url}/v1/sessions`, { headers: { authorization: `Bearer ${other}` } })).json()) as { sessions: { current: boolean }[] };
    stored = listed.sessions.some((session) => !session.current);
  } else {
    const ended = await fetch(`${url}/v1/sessions/current`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    if (ended.status !== 204) throw new Error(`ours: logout ${ended.status}`);
    stored = false; // the row is what the refusal below is read from; there is no side door to ask
  }
  const watched = await watch(async () => (await me(token)) === 200, 10);
  return { how: how === 'other' ? 'revoked from another client' : 'logged out, the old token replayed', storedAfter: stored, ...watched };
}

/** The cookies a response sets (deletions dropped), merged over `jar`. */
function withSetCookies(jar: Map<string, string>, response: Response): Map<string, string> {
  const next = new Map(jar);
  for (const line of response.headers.getSetCookie()) {
    const pair = line.slice(0, line.indexOf(';'));
    const name = pair.slice(0, pair.indexOf('='));
    if (/;\s*max-age=0/i.test(line)) next.delete(name);
    else next.set(name, pair.slice(name.length + 1));
  }
  return next;
}
const cookieHeader = (jar: Map<string, string>) => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');

/**
 * Peer: sign in, get-session (which warms a cookie cache), end that session server side (from a
 * second sign-in's revoke-other-sessions, or its own sign-out), then replay the old cookies as a
 * copy of them would be: how long does get-session still answer with the session?
 */
async function peerRevocation(peer: Server<PeerReady>, email: string, how: 'other' | 'self', limitSeconds: number): Promise<Revocation> {
  const { url, password, cookieNames } = peer.ready;
  const signIn = async () => {
    const response = await fetch(`${url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: url }, body: JSON.stringify({ email, password }) });
    if (!response.ok) throw new Error(`sign-in: ${response.status} ${await response.text()}`);
    return { jar: withSetCookies(new Map(), response), token: ((await response.json()) as { token: string }).token };
  };
  const getSession = (jar: Map<string, string>) => fetch(`${url}/api/auth/get-session`, { headers: { cookie: cookieHeader(jar) } });
  const signedIn = await signIn();
  const first = await getSession(signedIn.jar);
  if (!isSession(first.status, await first.text())) throw new Error('peer: a fresh session is not accepted');
  const old = withSetCookies(signedIn.jar, first);
  const post = (path: string, jar: Map<string, string>) => fetch(`${url}/api/auth/${path}`, { method: 'POST', headers: { cookie: cookieHeader(jar), origin: url, 'content-type': 'application/json' }, body: '{}' });
  const ended = how === 'other' ? await post('revoke-other-sessions', (await signIn()).jar) : await post('sign-out', old);
  if (!ended.ok) throw new Error(`peer: ${how === 'other' ? 'revoke-other-sessions' : 'sign-out'} ${ended.status} ${await ended.text()}`);
  const cache = old.get(cookieNames.cache);
  const cacheLeftSeconds = cache ? ((JSON.parse(Buffer.from(cache, 'base64url').toString('utf8')) as { expiresAt: number }).expiresAt - Date.now()) / 1000 : undefined;
  const { exists } = await peer.ask<{ exists: boolean }>({ type: 'session-exists', token: signedIn.token }, 'session-exists');
  const watched = await watch(async () => {
    const response = await getSession(old);
    return isSession(response.status, await response.text());
  }, limitSeconds);
  return { how: how === 'other' ? 'revoked from another client' : 'signed out, the old cookie replayed', storedAfter: exists, ...watched, ...(cacheLeftSeconds === undefined ? {} : { cacheLeftSeconds }) };
}

/** express-session: log in, GET /me, log out (passport's req.logout), then replay the old cookie. */
async function expressRevocation(peer: Server<ExpressReady>, email: string): Promise<Revocation> {
  const { url, password } = peer.ready;
  const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (login.status !== 200) throw new Error(`express: login ${login.status} ${await login.text()}`);
  const old = withSetCookies(new Map(), login);
  const me = async () => (await fetch(`${url}/me`, { headers: { cookie: cookieHeader(old) } })).status;
  if ((await me()) !== 200) throw new Error('express: a fresh session is not accepted');
  const ended = await fetch(`${url}/logout`, { method: 'POST', headers: { cookie: cookieHeader(old) } });
  if (ended.status !== 204) throw new Error(`express: logout ${ended.status}`);
  // The store's key: the cookie's value is `s:` + sid + `.` + signature, URI-encoded.
  const sid = decodeURIComponent(old.get('connect.sid') ?? '').replace(/^s:/, '').replace(/\.[^.]*$/, '');
  const { exists } = await peer.ask<{ exists: boolean }>({ type: 'session-exists', sid }, 'session-exists');
  const watched = await watch(async () => (await me()) === 200, 10);
  return { how: 'logged out, the old cookie replayed', storedAfter: exists, ...watched };
}

function describeRevocation(checks: Revocation[]): string {
  const stored = checks.filter((check) => check.storedAfter);
  if (stored.length > 0) return `**session still stored after revocation** (${stored.map((check) => check.how).join(', ')})`;
  const slowest = checks.reduce((worst, check) => ((check.refusedAfterSeconds ?? Infinity) > (worst.refusedAfterSeconds ?? Infinity) ? check : worst));
  if (checks.every((check) => check.answeredAfter === 0)) return 'refused on the next request';
  if (slowest.refusedAfterSeconds === null) return `still answered the session ${slowest.lastAnsweredSeconds?.toFixed(0)} s after revocation (watch ended)`;
  return `still answered the session for ${slowest.lastAnsweredSeconds?.toFixed(0)} s after revocation, refused at ${slowest.refusedAfterSeconds.toFixed(0)} s`;
}

// --- the run ----------------------------------------------------------------------------------------

installPeers();
const version = (name: string) => (JSON.parse(readFileSync(join(PEERS, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const versions = Object.fromEntries(
  ['better-auth', 'better-sqlite3', 'bcrypt', 'kysely', 'express', 'passport', 'passport-local', 'express-session', 'connect-sqlite3', 'sqlite3'].map((name) => [name, version(name)]),
);
const loadAtStart = loadavg();
console.error(
  `peers benchmark: ${SECONDS} s per load run, ${ROUNDS} alternating rounds, Node ${process.version}; better-auth ${versions['better-auth']}, better-sqlite3 ${versions['better-sqlite3']}; ` +
    `express ${versions.express}, passport ${versions.passport}, passport-local ${versions['passport-local']}, express-session ${versions['express-session']}, connect-sqlite3 ${versions['connect-sqlite3']}, sqlite3 ${versions.sqlite3}`,
);
console.error(`load average at start: ${loadAtStart.map((load) => load.toFixed(2)).join(', ')} (${availableParallelism()} cores)\n`);

const [ours, peerDatabase, peerCached, peerScrypt, peerExpress] = await Promise.all([
  start<OursReady>(TARGET, ['daemon', String(USERS), String(COST)], ['--import', 'tsx']),
  start<PeerReady>(BETTER_AUTH, ['--cookie-cache=off', '--hash=bcrypt', `--cost=${COST}`, `--users=${USERS}`], []),
  start<PeerReady>(BETTER_AUTH, [`--cookie-cache=${CACHE_SECONDS}`, '--hash=bcrypt', `--cost=${COST}`, `--users=${USERS}`], []),
  start<PeerReady>(BETTER_AUTH, ['--cookie-cache=off', '--hash=scrypt', '--users=50'], []),
  start<ExpressReady>(EXPRESS, [`--cost=${COST}`, `--users=${USERS}`], []),
]);

// Two of our seeded users are kept for the revocation checks; their seeded sessions leave the load.
const [oursRevokeOther, oursRevokeSelf] = ours.ready.emails;
const oursTokens = ours.ready.tokens.slice(2);
const oursLoginEmails = ours.ready.emails.slice(2, 52);

// Revocation first where it is immediate; the peer's cookie cache is watched in the background,
// one request a second, while the load runs go on (it can take the cache's whole lifetime).
const revocation = {
  ours: [await oursRevocation(ours, oursRevokeOther!, 'other'), await oursRevocation(ours, oursRevokeSelf!, 'self')],
  peerDatabase: [
    await peerRevocation(peerDatabase, peerDatabase.ready.revocationEmails[0]!, 'other', 10),
    await peerRevocation(peerDatabase, peerDatabase.ready.revocationEmails[1]!, 'self', 10),
  ],
  peerCached: [] as Revocation[],
  peerExpress: [await expressRevocation(peerExpress, peerExpress.ready.revocationEmails[0]!)],
};
const cachedWatch = Promise.all([
  peerRevocation(peerCached, peerCached.ready.revocationEmails[0]!, 'other', CACHE_SECONDS + 30),
  peerRevocation(peerCached, peerCached.ready.revocationEmails[1]!, 'self', CACHE_SECONDS + 30),
]);

// Hashing alone, in the peer's process: bcrypt at our cost against better-auth's default scrypt.
const { costs: hashCosts } = await peerScrypt.ask<{ costs: Record<string, { wallMs: number; cpuMs: number }> }>({ type: 'hash-cost', rounds: 9 }, 'hash-cost');
const [bcryptCost, scryptCost] = Object.values(hashCosts) as [{ wallMs: number; cpuMs: number }, { wallMs: number; cpuMs: number }];
console.error(`  one password check alone: bcrypt cost ${COST} ${bcryptCost.cpuMs.toFixed(0)} ms CPU (${bcryptCost.wallMs.toFixed(0)} ms wall); better-auth's scrypt ${scryptCost.cpuMs.toFixed(0)} ms CPU (${scryptCost.wallMs.toFixed(0)} ms wall)`);

// Session checks: warm up, then ours, peer without cache, peer with cache, alternating.
await oursMe(ours, oursTokens, { duration: 2 });
await peerGetSession(peerDatabase, { duration: 2 });
await peerGetSession(peerCached, { duration: 2 });
await expressMe(peerExpress, { duration: 2 });
const sessionRuns = {
  ours: [] as Measured[],
  peerDatabase: [] as Measured[],
  peerCached: [] as Measured[],
  peerExpress: [] as Measured[],
  oursAnonymous: [] as Measured[],
  peerAnonymous: [] as Measured[],
};
for (let round = 0; round < ROUNDS; round++) {
  sessionRuns.ours.push(await oursMe(ours, oursTokens));
  sessionRuns.peerDatabase.push(await peerGetSession(peerDatabase));
  sessionRuns.peerCached.push(await peerGetSession(peerCached));
  sessionRuns.peerExpress.push(await expressMe(peerExpress));
  sessionRuns.oursAnonymous.push(await oursAnonymous(ours));
  sessionRuns.peerAnonymous.push(await peerAnonymous(peerDatabase));
  const rate = (runs: Measured[]) => runs.at(-1)!.rate.toFixed(0);
  console.error(
    `  session checks, round ${round + 1}: ours ${rate(sessionRuns.ours)}, better-auth ${rate(sessionRuns.peerDatabase)}, with cookie cache ${rate(sessionRuns.peerCached)}, express-session ${rate(sessionRuns.peerExpress)} req/s; ` +
      `without credentials: ours ${rate(sessionRuns.oursAnonymous)}, better-auth ${rate(sessionRuns.peerAnonymous)} req/s`,
  );
}

// Sign-ins: ours at bcrypt 12, better-auth at bcrypt 12, better-auth with its default scrypt.
await oursLogin(ours, oursLoginEmails, { amount: SIGN_IN_CONNECTIONS });
await peerSignIn(peerDatabase, { amount: SIGN_IN_CONNECTIONS });
await peerSignIn(peerScrypt, { amount: SIGN_IN_CONNECTIONS });
await expressLogin(peerExpress, { amount: SIGN_IN_CONNECTIONS });
const signInRuns = { ours: [] as Measured[], peerBcrypt: [] as Measured[], peerScrypt: [] as Measured[], peerExpress: [] as Measured[] };
for (const server of [ours, peerDatabase, peerScrypt, peerExpress]) await settle(server);
for (let round = 0; round < ROUNDS; round++) {
  signInRuns.ours.push(await oursLogin(ours, oursLoginEmails, { amount: SIGN_INS_PER_RUN }));
  await settle(ours);
  signInRuns.peerBcrypt.push(await peerSignIn(peerDatabase, { amount: SIGN_INS_PER_RUN }));
  await settle(peerDatabase);
  signInRuns.peerScrypt.push(await peerSignIn(peerScrypt, { amount: SIGN_INS_PER_RUN }));
  await settle(peerScrypt);
  signInRuns.peerExpress.push(await expressLogin(peerExpress, { amount: SIGN_INS_PER_RUN }));
  await settle(peerExpress);
  const rate = (runs: Measured[]) => runs.at(-1)!.rate.toFixed(1);
  console.error(
    `  sign-ins, round ${round + 1}: ours ${rate(signInRuns.ours)}, better-auth bcrypt ${rate(signInRuns.peerBcrypt)}, scrypt ${rate(signInRuns.peerScrypt)}, express-session ${rate(signInRuns.peerExpress)} /s`,
  );
}
const loadAtEnd = loadavg();
ours.stop();
peerDatabase.stop();
peerScrypt.stop();
peerExpress.stop();
console.error(`  waiting for the cookie-cache revocation watch (up to ${CACHE_SECONDS + 30} s after it began) …`);
revocation.peerCached = await cachedWatch;
peerCached.stop();

// --- the table --------------------------------------------------------------------------------------

const session = {
  ours: medianOf(sessionRuns.ours),
  peerDatabase: medianOf(sessionRuns.peerDatabase),
  peerCached: medianOf(sessionRuns.peerCached),
  peerExpress: medianOf(sessionRuns.peerExpress),
  oursAnonymous: medianOf(sessionRuns.oursAnonymous),
  peerAnonymous: medianOf(sessionRuns.peerAnonymous),
};
const signIn = { ours: medianOf(signInRuns.ours), peerBcrypt: medianOf(signInRuns.peerBcrypt), peerScrypt: medianOf(signInRuns.peerScrypt), peerExpress: medianOf(signInRuns.peerExpress) };
const oursRevoked = describeRevocation(revocation.ours);

interface Row {
  /** Which peer the row compares with. */
  peerName: string;
  figure: string;
  ours: number;
  peer: number;
  unit: string;
  ratio: number;
  revocationOurs: string;
  revocationPeer: string;
  /** Per request in each server: CPU ms and SQL statements (medians), for the JSON. */
  cost?: { ours: Measured & { runs: Measured[] }; peer: Measured & { runs: Measured[] } };
}
const row = (peerName: string, figure: string, oursValue: number, peerValue: number, unit: string, revocationOurs: string, revocationPeer: string, cost?: Row['cost']): Row => ({
  peerName,
  figure,
  ours: oursValue,
  peer: peerValue,
  unit,
  ratio: oursValue / peerValue,
  revocationOurs,
  revocationPeer,
  ...(cost ? { cost } : {}),
});
const rows: Row[] = [
  row('better-auth', `session check req/s, ${SESSION_CONNECTIONS} connections: GET /v1/me vs get-session, no cookie cache`, session.ours.rate, session.peerDatabase.rate, 'req/s', oursRevoked, describeRevocation(revocation.peerDatabase), {
    ours: session.ours,
    peer: session.peerDatabase,
  }),
  row('better-auth', `session check req/s, ${SESSION_CONNECTIONS} connections: GET /v1/me vs get-session, cookie cache ${CACHE_SECONDS} s`, session.ours.rate, session.peerCached.rate, 'req/s', oursRevoked, describeRevocation(revocation.peerCached), {
    ours: session.ours,
    peer: session.peerCached,
  }),
  row('better-auth', `no credentials req/s, ${SESSION_CONNECTIONS} connections: GET /v1/me without a token (401) vs get-session without a cookie (200, null)`, session.oursAnonymous.rate, session.peerAnonymous.rate, 'req/s', '—', '—', {
    ours: session.oursAnonymous,
    peer: session.peerAnonymous,
  }),
  row('better-auth', `sign-ins/s, ${SIGN_IN_CONNECTIONS} connections, ${SIGN_INS_PER_RUN} per run: POST /v1/sessions vs sign-in/email, bcrypt cost ${COST} on both`, signIn.ours.rate, signIn.peerBcrypt.rate, '/s', '—', '—', { ours: signIn.ours, peer: signIn.peerBcrypt }),
  row('better-auth', `sign-ins/s, ${SIGN_IN_CONNECTIONS} connections, ${SIGN_INS_PER_RUN} per run: ours at bcrypt cost ${COST} vs its default scrypt`, signIn.ours.rate, signIn.peerScrypt.rate, '/s', '—', '—', { ours: signIn.ours, peer: signIn.peerScrypt }),
  row('better-auth', `CPU per password check alone: bcrypt cost ${COST} vs its default scrypt (N=16384, r=16)`, bcryptCost.cpuMs, scryptCost.cpuMs, 'ms', '—', '—'),
  row(
    'express 5 + passport-local + express-session',
    `session check req/s, ${SESSION_CONNECTIONS} connections: GET /v1/me vs GET /me, the session read from connect-sqlite3`,
    session.ours.rate,
    session.peerExpress.rate,
    'req/s',
    oursRevoked,
    describeRevocation(revocation.peerExpress),
    { ours: session.ours, peer: session.peerExpress },
  ),
  row(
    'express 5 + passport-local + express-session',
    `sign-ins/s, ${SIGN_IN_CONNECTIONS} connections, ${SIGN_INS_PER_RUN} per run: POST /v1/sessions vs passport-local's POST /login, bcrypt cost ${COST} on both`,
    signIn.ours.rate,
    signIn.peerExpress.rate,
    '/s',
    '—',
    '—',
    { ours: signIn.ours, peer: signIn.peerExpress },
  ),
];

const format = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const table = [
  '| peer | figure | ours | peer | ratio (ours ÷ peer) | revoked session, ours | revoked session, peer |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((each) => `| ${each.peerName} | ${each.figure} | ${format(each.ours)} ${each.unit} | ${format(each.peer)} ${each.unit} | ${each.ratio.toFixed(2)}x | ${each.revocationOurs} | ${each.revocationPeer} |`),
].join('\n');
const perRequest = (name: string, cost: Measured) => `${name} ${cost.cpuMs.toFixed(3)} ms CPU and ${cost.statements.toFixed(2)} SQL statements`;
console.log(`\n${table}\n`);
console.log(
  `Per session check: ${perRequest('ours', session.ours)}; ${perRequest('better-auth', session.peerDatabase)}; ${perRequest('with its cookie cache', session.peerCached)}; ${perRequest('express-session', session.peerExpress)}.\n` +
    `Per sign-in: ${perRequest('ours', signIn.ours)}; ${perRequest('better-auth (bcrypt)', signIn.peerBcrypt)}; ${perRequest('better-auth (scrypt)', signIn.peerScrypt)}; ${perRequest('express-session', signIn.peerExpress)}.\n` +
    `Load average (1, 5, 15 min): ${loadAtStart.map((load) => load.toFixed(2)).join(', ')} at start, ${loadAtEnd.map((load) => load.toFixed(2)).join(', ')} after the load runs; ${availableParallelism()} cores.\n`,
);
mkdirSync('bench-results', { recursive: true });
const out = join('bench-results', 'peers.json');
writeFileSync(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cores: availableParallelism(),
      loadAverage: { start: loadAtStart, afterLoadRuns: loadAtEnd },
      seconds: SECONDS,
      rounds: ROUNDS,
      versions,
      setup: {
        users: USERS,
        sessionConnections: SESSION_CONNECTIONS,
        signInConnections: SIGN_IN_CONNECTIONS,
        signInsPerRun: SIGN_INS_PER_RUN,
        cookieCacheSeconds: CACHE_SECONDS,
        hashing: `ours: HMAC-SHA256 prehash then bcrypt cost ${COST}; better-auth: bcrypt cost ${COST} through emailAndPassword.password.hash/verify (rows 1-3), or its default scrypt (row 4); express: bcrypt cost ${COST} in passport-local's verify`,
        express: "passport's own example set-up: express-session with resave false and saveUninitialized false, connect-sqlite3 on the sqlite3 driver, the user kept in the session (no query to deserialize it)",
        sqlite: 'all: WAL, synchronous NORMAL, busy_timeout 5000, foreign keys on',
      },
      hashCost: hashCosts,
      rows,
      revocation,
    },
    null,
    2,
  )}\n`,
);
console.error(`figures written to ${out}`);
process.exit(0);
