// The package as a user gets it: `npm pack` in a copy of this checkout (dist/ built by `prepack`),
// `npm install -g` of the tarball into a temporary prefix, exactly as the README says, then the
// installed taskmaster and taskmasterd, found on PATH, against each other.
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { simpleParser } from 'mailparser';
import { DAEMON_HELP } from '../server/core/config.js';
import { baseEnv, runProcess, type CliResult, type RunProcessOptions } from './helpers/cli.js';
import { STRONG_PASSWORD } from './helpers/daemon.js';
import { tokenOf } from './helpers/smtp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The packages whose install scripts a global install must run, as the README's install command lists them. */
const NATIVE_PACKAGES = ['bcrypt', 'sqlite3'];
/** Installing compiles sqlite3 from source when its prebuilt binary cannot be downloaded: minutes. */
const INSTALL_TIMEOUT_MS = 12 * 60_000;

interface PackedFile {
  path: string;
  size: number;
}

let work: string;
let tarball: string;
let packedFiles: PackedFile[];
let prefix: string;

/** A command's whole output, so a failed pack or install shows npm's own words; killed after a minute unless told otherwise. */
function run(command: string, args: string[], options: RunProcessOptions = {}): Promise<CliResult> {
  return runProcess(command, args, { ...options, timeoutMs: options.timeoutMs ?? 60_000 });
}

function failed(what: string, result: CliResult): Error {
  return new Error(`${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

/**
 * npm as the user runs it (their proxy, CA certificates and npmrc), without the settings the `npm test`
 * running this file hands down to its children.
 */
function npmEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  return { ...env, ...extra };
}

/** The installed programs come first on PATH, as after a global install. */
function installedEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  return baseEnv({ ...extra, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
}

test.before('a copy of this checkout packs, and the tarball installs globally with only the native packages allowed to run scripts', async (t) => {
  t.timeout(INSTALL_TIMEOUT_MS + 3 * 60_000); // the install's own deadline comes first, and says what npm printed
  work = await mkdtemp(join(tmpdir(), 'taskmaster-package-'));

  // Pack a copy, not this folder: `prepack` rebuilds dist/, which the other test files are running.
  const checkout = join(work, 'checkout');
  const notPacked = new Set(['node_modules', 'dist', 'data', '.git', 'test', 'bench-results']);
  await cp(ROOT, checkout, { recursive: true, filter: (source) => !notPacked.has(source.slice(ROOT.length).split('/')[0]!) && !source.endsWith('.tgz') });
  await symlink(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir'); // esbuild, for `prepack`
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout, env: npmEnv(), timeoutMs: 2 * 60_000 });
  if (pack.code !== 0) throw failed('npm pack', pack);
  const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string; size: number; files: PackedFile[] }];
  tarball = join(work, packed.filename);
  packedFiles = packed.files;
  t.log(`${packed.filename}: ${packed.files.length} files, ${Math.round(packed.size / 1024)} kB`);

  // `npm install -g` with --strict-allow-scripts: a dependency with install scripts the README's
  // command does not list fails here, by name, instead of being run unreviewed.
  prefix = join(work, 'prefix');
  await mkdir(join(prefix, 'lib'), { recursive: true }); // --strict-allow-scripts needs the prefix to exist
  // --prefix would also move the global npmrc (prefix/etc/npmrc): keep the user's, which may hold a CA file.
  const globalConfig = await run('npm', ['config', 'get', 'globalconfig'], { cwd: work, env: npmEnv() });
  if (globalConfig.code !== 0) throw failed('npm config get globalconfig', globalConfig);
  const allowScripts = [...NATIVE_PACKAGES, tarball].join(',');
  const started = Date.now();
  // At the lowest CPU priority: the sqlite3 compile takes minutes, and the test files running
  // beside this one (some measure timings) must not wait behind it.
  const install = await run(
    'nice',
    ['-n', '19', 'npm', 'install', '--global', '--prefix', prefix, `--globalconfig=${globalConfig.stdout.trim()}`, '--strict-allow-scripts', `--allow-scripts=${allowScripts}`, '--no-audit', '--no-fund', tarball],
    { cwd: work, env: npmEnv({ JOBS: 'max' }), timeoutMs: INSTALL_TIMEOUT_MS }, // JOBS: node-gyp compiles on every core
  );
  if (install.code !== 0) throw failed('npm install -g', install);
  t.log(`installed in ${Math.round((Date.now() - started) / 1000)} s`);
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('the tarball holds the launchers, the built programs and the docs, and no sources, tests or build files', (t) => {
  const paths = packedFiles.map((file) => file.path).sort();
  for (const needed of ['package.json', 'README.md', 'SECURITY.md', 'bin/taskmaster', 'bin/taskmasterd', 'dist/cli/main.js', 'dist/server/main.js', 'dist/server/password-strength-worker.js', 'docs/configuration.md']) {
    t.true(paths.includes(needed), `${needed} is missing from the tarball`);
  }
  const extra = paths.filter((path) => !/^(bin|dist|docs)\//.test(path) && !['package.json', 'README.md', 'SECURITY.md', 'LICENSE'].includes(path));
  t.deepEqual(extra, [], 'only bin/, dist/, docs/ and the top-level docs are packed');
  t.deepEqual(
    paths.filter((path) => path.endsWith('.ts') || path.endsWith('.map') || path.endsWith('meta.json')),
    [],
    'no TypeScript, source maps or build metadata',
  );
});

test('every package the built daemon imports is a runtime dependency', async (t) => {
  const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const daemon = await readFile(join(prefix, 'lib', 'node_modules', 'taskmaster', 'dist', 'server', 'main.js'), 'utf8');
  // esbuild writes each static import at the start of a line; dynamic ones as import("…").
  const imports = /^import\s*(?:[^;"'`]*?\sfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  const specifiers = [...daemon.matchAll(imports)].map((match) => (match[1] ?? match[2])!).filter((specifier) => !specifier.startsWith('.'));
  const packages = new Set(specifiers.filter((specifier) => !specifier.startsWith('node:')).map((specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')));
  t.true(packages.size > 0);
  t.deepEqual([...packages].filter((name) => !(name in manifest.dependencies)), []);
});

test('the installed taskmaster answers --version and --help from PATH', async (t) => {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const versionRun = await run('taskmaster', ['--version'], { env: installedEnv() });
  t.is(versionRun.code, 0, versionRun.stderr);
  t.is(versionRun.stdout, `${version}\n`);
  const help = await run('taskmaster', ['--help'], { env: installedEnv() });
  t.is(help.code, 0, help.stderr);
  for (const command of ['register', 'verify', 'login', 'whoami', 'profile', 'logout']) t.regex(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
});

test('the installed taskmasterd answers --help from PATH with the same text as this checkout', async (t) => {
  const help = await run('taskmasterd', ['--help'], { env: installedEnv() });
  t.is(help.code, 0, help.stderr);
  t.is(help.stdout, `${DAEMON_HELP}\n`);
});

/** Starts the installed taskmasterd on port 0 with the outbox under `dataDir`; resolves once it listens. */
function startInstalledDaemon(dataDir: string): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn('taskmasterd', ['--port', '0', '--data-dir', dataDir], { cwd: dataDir, env: installedEnv({ BCRYPT_COST: '4' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const url = /listening on (http:\/\/[^"\s]+)/.exec(out)?.[1];
      if (url) resolve({ child, url, log: () => out });
    });
    child.stderr!.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the installed taskmasterd exited ${code}:\n${out}`)));
  });
}

/** The verification token from the one mail in the outbox, once the daemon has written it. */
async function tokenFromOutbox(outbox: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = (await readdir(outbox).catch(() => [] as string[])).filter((name) => name.endsWith('.eml'));
    if (mails.length > 0) {
      const mail = await simpleParser(await readFile(join(outbox, mails[0]!)));
      return tokenOf({ text: mail.text ?? '' });
    }
    if (Date.now() > deadline) throw new Error(`no mail in ${outbox} after 10 s`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

test('the installed taskmaster registers, verifies, logs in and says whoami against the installed taskmasterd', async (t) => {
  const dataDir = join(work, 'data');
  await mkdir(dataDir, { recursive: true });
  const daemon = await startInstalledDaemon(dataDir);
  t.teardown(() => void daemon.child.kill('SIGTERM'));
  const cli = (args: string[], input?: string) =>
    run('taskmaster', args, { env: installedEnv({ TASKMASTER_CONFIG_DIR: join(work, 'config'), TASKMASTER_SERVER: daemon.url }), input });

  const email = 'installed@example.com';
  const register = await cli(['register', '--email', email, '--username', 'installed', '--password-stdin'], `${STRONG_PASSWORD}\n`);
  t.is(register.code, 0, `${register.stderr}\n${daemon.log()}`);
  const verify = await cli(['verify', await tokenFromOutbox(join(dataDir, 'outbox'))]);
  t.is(verify.code, 0, verify.stderr);
  const login = await cli(['login', '--email', email, '--password-stdin'], `${STRONG_PASSWORD}\n`);
  t.is(login.code, 0, login.stderr);
  const whoami = await cli(['whoami']);
  t.is(whoami.code, 0, whoami.stderr);
  t.is(whoami.stdout, 'installed\n');
});
