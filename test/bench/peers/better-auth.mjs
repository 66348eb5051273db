// One better-auth server per process, for `npm run bench:peers` (test/bench/peers/run.ts): email and
// password on SQLite through better-sqlite3, mounted on node:http with toNodeHandler as its docs
// show, on 127.0.0.1 only. Plain JavaScript, so better-auth's types stay out of the project's tsc run.
//   --cookie-cache=SECONDS|off   session.cookieCache (off: every get-session reads the database)
//   --hash=bcrypt|scrypt         bcrypt at --cost through password.hash/verify, or its default scrypt
//   --users=N                    verified users, each with one session (and 2 more, for the revocation checks)
// Spoken over IPC like test/bench/target.ts: {ready, url, cookies, emails, revocationEmails, password}
// on start; answers {stats} (CPU ms, SQL statements), {cookies} (fresh cookie headers, the cache
// cookie re-issued), {session-exists}, {hash-cost} and {stop}.
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { hashPassword as scryptHash, verifyPassword as scryptVerify } from 'better-auth/crypto';
import Database from 'better-sqlite3';

const { values: args } = parseArgs({
  options: {
    'cookie-cache': { type: 'string', default: 'off' },
    hash: { type: 'string', default: 'bcrypt' },
    cost: { type: 'string', default: '12' },
    users: { type: 'string', default: '1000' },
  },
});
const PASSWORD = 'correct-horse-battery-staple-42'; // target.ts's, so both sides hash the same input
const cost = Number(args.cost);
const cookieCacheSeconds = args['cookie-cache'] === 'off' ? undefined : Number(args['cookie-cache']);
const send = (message) => process.send?.(message);

// The daemon's own SQLite settings (db/connection.ts), so the storage is not what differs.
const sqlite = new Database(join(mkdtempSync(join(tmpdir(), 'taskmaster-bench-better-auth-')), 'auth.sqlite3'));
sqlite.pragma('journal_mode = WAL');
sqlite.pragma('busy_timeout = 5000');
sqlite.pragma('foreign_keys = ON');
sqlite.pragma('synchronous = NORMAL');
// Every statement better-auth sends (Kysely prepares each one, BEGIN and COMMIT included).
let statements = 0;
const prepare = sqlite.prepare.bind(sqlite);
sqlite.prepare = (source) => {
  statements++;
  return prepare(source);
};

const handler = { current: (_request, response) => response.writeHead(503).end() };
const server = createServer((request, response) => handler.current(request, response));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}`;

const auth = betterAuth({
  baseURL: url,
  secret: 'bench-only-secret-0123456789abcdefghijklmnopqrstuvwxyz',
  database: sqlite,
  emailAndPassword: {
    enabled: true,
    ...(args.hash === 'bcrypt'
      ? { password: { hash: (password) => bcrypt.hash(password, cost), verify: ({ hash, password }) => bcrypt.compare(password, hash) } }
      : {}),
  },
  session: cookieCacheSeconds ? { cookieCache: { enabled: true, maxAge: cookieCacheSeconds } } : {},
  // The daemon runs its bench with its throttles lifted (target.ts); the same here.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});
await (await getMigrations(auth.options)).runMigrations();
const context = await auth.$context;
const { sessionToken, sessionData } = context.authCookies;

/** The session cookie as better-call signs it: `token.base64(HMAC-SHA256(secret, token))`, URI-encoded. */
function signedSessionCookie(token) {
  const signature = createHmac('sha256', context.secret).update(token).digest('base64');
  return `${sessionToken.name}=${encodeURIComponent(`${token}.${signature}`)}`;
}

// Seeding: users, their credential accounts and sessions through better-auth's own adapter, all with
// one password hash (as target.ts seeds the daemon), so seeding costs one hash, not one per user.
const passwordHash = args.hash === 'bcrypt' ? await bcrypt.hash(PASSWORD, cost) : await scryptHash(PASSWORD);
const users = Number(args.users);
const tokens = [];
const emails = [];
const revocationEmails = [];
for (let i = 0; i < users + 2; i++) {
  const email = `bench${i}@example.com`;
  const user = await context.internalAdapter.createUser({ email, name: `bench${i}`, emailVerified: true });
  await context.internalAdapter.createAccount({ userId: user.id, providerId: 'credential', accountId: user.id, password: passwordHash });
  if (i >= users) {
    revocationEmails.push(email);
    continue;
  }
  tokens.push((await context.internalAdapter.createSession(user.id)).token);
  emails.push(email);
}

/**
 * The Cookie header of each seeded session, checked against get-session in process. With the
 * cookie cache on, each gets a freshly issued session_data cookie too (it holds its own expiry).
 */
async function cookieHeaders() {
  const headers = [];
  for (const token of tokens) {
    const cookie = signedSessionCookie(token);
    const { headers: replyHeaders, response } = await auth.api.getSession({ headers: new Headers({ cookie }), query: { disableCookieCache: true }, returnHeaders: true });
    if (!response?.session) throw new Error(`seeded session ${token.slice(0, 6)}… is not accepted`);
    const cache = replyHeaders.getSetCookie().find((line) => line.startsWith(`${sessionData.name}=`));
    if (cookieCacheSeconds && !cache) throw new Error('get-session set no cache cookie');
    headers.push(cache ? `${cookie}; ${cache.slice(0, cache.indexOf(';'))}` : cookie);
  }
  return headers;
}

/** Median ms of wall and CPU time per call, `rounds` calls of each, alternating. */
async function hashCost(rounds) {
  const bcryptHash = await bcrypt.hash(PASSWORD, cost);
  const scryptStored = await scryptHash(PASSWORD);
  const kinds = {
    [`bcrypt cost ${cost} compare`]: () => bcrypt.compare(PASSWORD, bcryptHash),
    'scrypt N=16384 r=16 p=1 verify (better-auth default)': () => scryptVerify({ hash: scryptStored, password: PASSWORD }),
  };
  const times = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, { wallMs: [], cpuMs: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const [kind, run] of Object.entries(kinds)) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      if (!(await run())) throw new Error(`${kind} did not match`);
      times[kind].wallMs.push(performance.now() - started);
      const used = process.cpuUsage(cpu);
      times[kind].cpuMs.push((used.user + used.system) / 1000);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return Object.fromEntries(Object.entries(times).map(([kind, { wallMs, cpuMs }]) => [kind, { wallMs: median(wallMs), cpuMs: median(cpuMs) }]));
}

const cookies = await cookieHeaders();
handler.current = toNodeHandler(auth);
send({ type: 'ready', url, cookies, emails, revocationEmails, password: PASSWORD, cookieNames: { session: sessionToken.name, cache: sessionData.name } });

process.on('message', async (message) => {
  if (message.type === 'stats') {
    const { user, system } = process.cpuUsage();
    send({ type: 'stats', cpuMs: (user + system) / 1000, statements, rss: process.memoryUsage().rss });
  } else if (message.type === 'cookies') {
    send({ type: 'cookies', cookies: await cookieHeaders() });
  } else if (message.type === 'session-exists') {
    send({ type: 'session-exists', exists: (await context.internalAdapter.findSession(message.token)) !== null });
  } else if (message.type === 'hash-cost') {
    send({ type: 'hash-cost', costs: await hashCost(message.rounds) });
  } else if (message.type === 'stop') {
    process.exit(0);
  }
});
