// Start-up failures, as a supervisor sees them: the real bin/taskmasterd exits non-zero, soon, with
// one clear line, whatever stops it (a taken port, an unreachable database, a data folder it cannot
// create). A half-started daemon that hangs on would never be restarted.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DAEMON_HELP, readConfig } from '../server/core/config.js';
import { TASKMASTERD_BIN, baseEnv } from './helpers/cli.js';

/**
 * How long a failing start may take beyond loading the program (which `taskmasterd --version`
 * measures just before, so a machine loaded by other test runs does not fail the bound).
 */
const EXIT_BOUND_MS = 3_000;

/** The time to load the program and exit, measured now: the baseline of every bound below. */
async function loadTime(): Promise<number> {
  const run = await runDaemon(['--version']);
  if (run.code !== 0) throw new Error(`taskmasterd --version failed: ${run.stderr}`);
  return run.ms;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs bin/taskmasterd until it exits; kills it (and says so) if it is still running after 30 s. */
function runDaemon(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [TASKMASTERD_BIN, ...args], { env: baseEnv({ BCRYPT_COST: '4', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const hung = setTimeout(() => {
      stderr += '\n[test] still running after 30 s: killed\n';
      child.kill('SIGKILL');
    }, 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(hung);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmaster-startup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function occupyPort(): Promise<Server> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test.serial('a taken port: taskmasterd exits 1 within seconds, saying the port is in use', async (t) => {
  const holder = await occupyPort();
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const { port } = holder.address() as AddressInfo;
  const baseline = await loadTime();
  const run = await runDaemon(['--port', String(port), '--data-dir', await tempDir(t)]);
  t.is(run.code, 1, run.stderr);
  t.true(run.ms < baseline + EXIT_BOUND_MS, `exited after ${run.ms} ms; loading takes ${baseline} ms`);
  t.is(run.stderr, `taskmasterd: cannot start: port ${port} is in use; pick another with --port or PORT\n`);
  t.notRegex(run.stdout, /listening on/);
});

test.serial('an unreachable PostgreSQL: exits 1 within seconds, naming the server but not the password', async (t) => {
  // A port that was free a moment ago: nothing listens there, so the connection is refused.
  const holder = await occupyPort();
  const { port } = holder.address() as AddressInfo;
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  const baseline = await loadTime();
  const run = await runDaemon(['--port', '0', '--data-dir', await tempDir(t)], { DATABASE_URL: `postgres://taskmaster:hunter2-secret@127.0.0.1:${port}/taskmaster` });
  t.is(run.code, 1, run.stderr);
  t.true(run.ms < baseline + EXIT_BOUND_MS, `exited after ${run.ms} ms; loading takes ${baseline} ms`);
  t.regex(run.stderr, new RegExp(`taskmasterd: cannot start: cannot open the database postgres://127\\.0\\.0\\.1:${port}/taskmaster: .*ECONNREFUSED`));
  t.false(run.stderr.includes('hunter2-secret'));
});

test.serial('a PostgreSQL server that accepts but never answers: exits 1 after the connection timeout, not never', async (t) => {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    silent.close();
    return Promise.resolve();
  });
  const { port } = silent.address() as AddressInfo;
  const baseline = await loadTime();
  const run = await runDaemon(['--port', '0', '--data-dir', await tempDir(t)], { DATABASE_URL: `postgres://taskmaster:secret@127.0.0.1:${port}/taskmaster` });
  t.is(run.code, 1, run.stderr);
  t.true(run.ms < baseline + 12_000, `exited after ${run.ms} ms; loading takes ${baseline} ms, the pool waits 5 s for a connection`);
  t.regex(run.stderr, /cannot start: cannot open the database postgres:\/\/127\.0\.0\.1:\d+\/taskmaster: no answer within a few seconds/);
});

test.serial('a data folder that cannot be created: exits 1 within seconds, naming it', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a-file'), '');
  // A path under a regular file fails for root too (permissions would not).
  const dataDir = join(dir, 'a-file', 'data');
  const baseline = await loadTime();
  const run = await runDaemon(['--port', '0', '--data-dir', dataDir]);
  t.is(run.code, 1, run.stderr);
  t.true(run.ms < baseline + EXIT_BOUND_MS, `exited after ${run.ms} ms; loading takes ${baseline} ms`);
  t.is(run.stderr, `taskmasterd: cannot start: cannot create the data folder ${dataDir} (ENOTDIR); pick another with --data-dir or TASKMASTER_DATA_DIR\n`);
});

test.serial('a bind address that is not on this machine: exits 1 within seconds, saying so', async (t) => {
  const baseline = await loadTime();
  const run = await runDaemon(['--port', '0', '--host', '192.0.2.254', '--data-dir', await tempDir(t)]);
  t.is(run.code, 1, run.stderr);
  t.true(run.ms < baseline + EXIT_BOUND_MS, `exited after ${run.ms} ms; loading takes ${baseline} ms`);
  t.regex(run.stderr, /cannot start: 192\.0\.2\.254 is not an address of this machine; pick another with --host or HOST/);
});

test('a bad setting is a usage error (exit 2) naming it, before anything starts', async (t) => {
  const run = await runDaemon(['--port', '0', '--data-dir', await tempDir(t)], { SMTP_URL: 'smtp://mailer@mail.example.org', SMTP_PASSWORD_FILE: '/nonexistent/smtp-password' });
  t.is(run.code, 2);
  t.regex(run.stderr, /SMTP_PASSWORD_FILE: cannot read \/nonexistent\/smtp-password \(ENOENT\)/);
});

test('--help lists every configuration variable and flag', async (t) => {
  const run = await runDaemon(['--help']);
  t.is(run.code, 0);
  t.is(run.stdout, `${DAEMON_HELP}\n`);
  const variables = ['PORT', 'HOST', 'TASKMASTER_DATA_DIR', 'DATABASE_URL', 'PUBLIC_URL', 'TRUST_PROXY', 'BCRYPT_COST', 'LOG_LEVEL', 'UV_THREADPOOL_SIZE'];
  const mail = ['SMTP_URL', 'SMTP_PASSWORD', 'SMTP_PASSWORD_FILE', 'SMTP_TLS_CA_FILE', 'SMTP_INSECURE', 'MAIL_FROM', 'SUPPORT_EMAIL'];
  for (const name of [...variables, ...mail]) t.regex(run.stdout, new RegExp(`\\b${name}\\b`), name);
  for (const flag of ['--port', '--host', '--data-dir', '--database-url', '--smtp-url', '--public-url', '--trust-proxy', '--smtp-insecure', '--check-mail', '--help', '--version']) {
    t.true(run.stdout.includes(flag), flag);
  }
  t.regex(run.stdout, /smtps:\/\/.*465/);
  t.regex(run.stdout, /smtp:\/\/.*587.*STARTTLS/);
});

test('listening beyond loopback without PUBLIC_URL warns that links, the device page and the forms\' origin check use the bound address; loopback, or PUBLIC_URL set, does not', (t) => {
  const warningsOf = (env: Record<string, string>) => {
    const result = readConfig([], { TASKMASTER_DATA_DIR: tmpdir(), ...env });
    return result.kind === 'run' ? result.config.warnings : [];
  };
  const wide = warningsOf({ HOST: '0.0.0.0' }).find((warning) => warning.startsWith('PUBLIC_URL is not set'));
  t.truthy(wide);
  t.regex(wide ?? '', /listening on 0\.0\.0\.0: links in mail, the \/device page[\s\S]*set PUBLIC_URL/);
  t.truthy(warningsOf({ HOST: '192.0.2.10' }).find((warning) => warning.startsWith('PUBLIC_URL is not set')));
  t.falsy(warningsOf({}).find((warning) => warning.startsWith('PUBLIC_URL')), 'the default 127.0.0.1');
  t.falsy(warningsOf({ HOST: '::1' }).find((warning) => warning.startsWith('PUBLIC_URL')));
  t.falsy(warningsOf({ HOST: '0.0.0.0', PUBLIC_URL: 'https://accounts.example.org' }).find((warning) => warning.startsWith('PUBLIC_URL')));
});
