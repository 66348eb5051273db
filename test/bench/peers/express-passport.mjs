// One express 5 + passport-local + express-session server per process, for `npm run bench:peers`
// (test/bench/peers/run.ts): the stack most Node tutorials pick, set up as passport's own example
// (todos-express-password) sets it up. Sessions in SQLite through connect-sqlite3 on node-sqlite3 (the
// daemon's driver, here with the daemon's settings), `resave: false, saveUninitialized: false`, the
// user kept in the session; passwords with bcrypt at --cost; GET /me reads the session from the store
// on every request; POST /logout is passport's req.logout, which ends the session in the store.
// Plain JavaScript, like better-auth.mjs.
//   --cost=N      bcrypt cost (12)
//   --users=N     verified users, each with one session (and 2 more, for the revocation checks)
// Spoken over IPC like better-auth.mjs: {ready, url, cookies, emails, revocationEmails, password} on
// start; answers {stats} (CPU ms, SQL statements), {session-exists} and {stop}.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import connectSqlite3 from 'connect-sqlite3';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import sqlite3 from 'sqlite3';

const { values: args } = parseArgs({
  options: {
    cost: { type: 'string', default: '12' },
    users: { type: 'string', default: '1000' },
  },
});
const PASSWORD = 'correct-horse-battery-staple-42'; // target.ts's, so every side hashes the same input
const SECRET = 'bench-only-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const send = (message) => process.send?.(message);

// Every statement sent to SQLite, counted where node-sqlite3 takes them.
let statements = 0;
for (const method of ['run', 'get', 'all', 'each', 'exec', 'prepare']) {
  const original = sqlite3.Database.prototype[method];
  sqlite3.Database.prototype[method] = function counted(...callArgs) {
    statements++;
    return original.apply(this, callArgs);
  };
}

const db = new sqlite3.Database(join(mkdtempSync(join(tmpdir(), 'taskmaster-bench-express-')), 'app.sqlite3'));
const sql = {
  run: (text, params = []) => new Promise((resolve, reject) => db.run(text, params, (error) => (error ? reject(error) : resolve()))),
  get: (text, params = []) => new Promise((resolve, reject) => db.get(text, params, (error, row) => (error ? reject(error) : resolve(row)))),
  exec: (text) => new Promise((resolve, reject) => db.exec(text, (error) => (error ? reject(error) : resolve()))),
};
// The daemon's own SQLite settings (db/connection.ts), so the storage is not what differs.
await sql.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;');
await sql.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, username TEXT NOT NULL, password_hash TEXT NOT NULL)');

const SQLiteStore = connectSqlite3(session);
const store = new SQLiteStore({ db, table: 'sessions' });
await new Promise((resolve) => store.client.once('connect', resolve));

passport.use(
  new LocalStrategy({ usernameField: 'email' }, (email, password, done) => {
    sql
      .get('SELECT id, email, username, password_hash FROM users WHERE email = ?', [email])
      .then(async (row) => (row && (await bcrypt.compare(password, row.password_hash)) ? done(null, { id: row.id, email: row.email, username: row.username }) : done(null, false)))
      .catch(done);
  }),
);
passport.serializeUser((user, done) => process.nextTick(() => done(null, user)));
passport.deserializeUser((user, done) => process.nextTick(() => done(null, user)));

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store }));
app.use(passport.authenticate('session'));
app.post('/login', passport.authenticate('local'), (req, res) => res.json({ user: req.user }));
app.get('/me', (req, res) => (req.isAuthenticated() ? res.json({ user: req.user }) : res.status(401).json({ error: 'unauthenticated' })));
app.post('/logout', (req, res, next) => req.logout((error) => (error ? next(error) : res.status(204).end())));

const server = await new Promise((resolve) => {
  const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
});
const url = `http://127.0.0.1:${server.address().port}`;

// Seeding: the users with one password hash (as target.ts seeds the daemon), and a logged-in session
// each, written to the store as express-session and passport write one, with its signed cookie.
const cost = Number(args.cost);
const passwordHash = await bcrypt.hash(PASSWORD, cost);
const users = Number(args.users);
const cookies = [];
const emails = [];
const revocationEmails = [];
await sql.exec('BEGIN');
for (let i = 0; i < users + 2; i++) {
  const email = `bench${i}@example.com`;
  await sql.run('INSERT INTO users (id, email, username, password_hash) VALUES (?, ?, ?, ?)', [i + 1, email, `bench${i}`, passwordHash]);
  if (i >= users) {
    revocationEmails.push(email);
    continue;
  }
  const sid = randomBytes(24).toString('base64url');
  const stored = { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, passport: { user: { id: i + 1, email, username: `bench${i}` } } };
  await new Promise((resolve, reject) => store.set(sid, stored, (error) => (error ? reject(error) : resolve())));
  // express-session's signed cookie: `s:` + sid + `.` + base64 HMAC-SHA256 without padding.
  const signed = `s:${sid}.${createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '')}`;
  cookies.push(`connect.sid=${encodeURIComponent(signed)}`);
  emails.push(email);
}
await sql.exec('COMMIT');
for (const cookie of cookies) {
  const response = await fetch(`${url}/me`, { headers: { cookie } });
  if (response.status !== 200) throw new Error(`seeded session ${cookie.slice(0, 20)}… is not accepted: ${response.status}`);
}
statements = 0;
send({ type: 'ready', url, cookies, emails, revocationEmails, password: PASSWORD });

process.on('message', async (message) => {
  if (message.type === 'stats') {
    const { user, system } = process.cpuUsage();
    send({ type: 'stats', cpuMs: (user + system) / 1000, statements, rss: process.memoryUsage().rss });
  } else if (message.type === 'session-exists') {
    const row = await sql.get('SELECT COUNT(*) AS count FROM sessions WHERE sid = ?', [message.sid]);
    send({ type: 'session-exists', exists: row.count > 0 });
  } else if (message.type === 'stop') {
    process.exit(0);
  }
});
