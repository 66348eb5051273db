// Starts the real daemon on port 0 with its own temp data folder and a real SMTP receiver.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { readConfig, type Config } from '../../server/core/config.js';
import { startDaemon, type Daemon, type StartOptions } from '../../server/main.js';
import { MAIL_WAIT_MS, startSmtp, tokenOf, type SmtpReceiver } from './smtp.js';
import { api } from './http.js';

export interface TestDaemon {
  url: string;
  daemon: Daemon;
  smtp: SmtpReceiver;
  dataDir: string;
  config: Config;
  close(): Promise<void>;
}

export const STRONG_PASSWORD = 'correct-horse-battery-staple-42';

export async function testConfig(dataDir: string, env: Record<string, string> = {}): Promise<Config> {
  const result = readConfig([], { PORT: '0', TASKMASTER_DATA_DIR: dataDir, BCRYPT_COST: '4', ...env });
  if (result.kind !== 'run') throw new Error('unexpected config result');
  return result.config;
}

export async function startTestDaemon(options: StartOptions & { env?: Record<string, string>; dataDir?: string; smtp?: SmtpReceiver } = {}): Promise<TestDaemon> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'taskmaster-test-')));
  const smtp = options.smtp ?? (await startSmtp());
  const config = await testConfig(dataDir, { SMTP_URL: smtp.url, ...options.env });
  const daemon = await startDaemon(config, { log: pino({ level: 'silent' }), mailRetry: { baseMs: 100, maxMs: 500 }, ...options });
  return {
    url: daemon.url,
    daemon,
    smtp,
    dataDir,
    config,
    async close() {
      await daemon.close();
      if (!options.smtp) await smtp.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A data folder and an SMTP receiver that outlive the daemons a test restarts on them. */
export async function lastingSetup(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<{ dataDir: string; smtp: SmtpReceiver }> {
  const dataDir = await mkdtemp(join(tmpdir(), `taskmaster-${prefix}-`));
  const smtp = await startSmtp();
  t.teardown(async () => {
    await smtp.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { dataDir, smtp };
}

/** Waits until the sender has settled every queued mail (sent, or failed for good), as the outbox table says. */
export async function outboxSettled(td: TestDaemon, timeoutMs = MAIL_WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await td.daemon.db.knex('mail_outbox').whereNull('sent_at').whereNull('failed_at').count({ n: '*' }).first();
    if (Number(pending?.n) === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending?.n} mails still queued after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let counter = 0;
/** A fresh, valid identity per call. */
export function identity(prefix = 'user') {
  counter++;
  const tag = `${prefix}${process.pid % 10000}x${counter}`;
  return { email: `${tag}@example.com`, username: tag, password: STRONG_PASSWORD };
}

/** Registers, verifies through the emailed token, logs in; returns the session token. */
export async function activeAccount(td: TestDaemon, who = identity()) {
  const created = await api(td.url, 'POST', '/v1/users', who);
  if (created.status !== 201) throw new Error(`register failed: ${created.status} ${created.text}`);
  const mail = await td.smtp.waitFor((m) => m.to === who.email.toLowerCase() || m.to === who.email);
  const verified = await api(td.url, 'POST', '/v1/verify', { token: tokenOf(mail) });
  if (verified.status !== 200) throw new Error(`verify failed: ${verified.status}`);
  const login = await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
  if (login.status !== 201) throw new Error(`login failed: ${login.status} ${login.text}`);
  return { ...who, token: login.json.token as string, user: login.json.user };
}

/**
 * The SQL of each query the in-process daemon sends while `action` runs that carries one of `keys`
 * among its bindings (a token's hash, a user's id): the queries about that token or user, told apart
 * from those of other tests on the same daemon.
 */
export async function queriesAbout(td: TestDaemon, keys: string[], action: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (query: { sql: string; bindings?: readonly unknown[] }) => {
    if ((query.bindings ?? []).some((value) => keys.includes(String(value)))) seen.push(query.sql);
  };
  td.daemon.db.knex.on('query', listener);
  try {
    await action();
  } finally {
    td.daemon.db.knex.off('query', listener);
  }
  return seen;
}
