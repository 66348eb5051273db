// A reader that goes away: `taskmaster activity | head -1`. The real bin/taskmaster, spawned with
// its stdout already closed, so every line it prints meets a closed pipe (EPIPE).
import { spawn } from 'node:child_process';
import test from 'ava';
import { TASKMASTER_BIN, baseEnv, cliUser, type CliUser } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';

let td: TestDaemon;
let user: CliUser;
let account: Awaited<ReturnType<typeof activeAccount>>;
test.before(async () => {
  td = await startTestDaemon();
  user = await cliUser(td.url);
  account = await activeAccount(td, identity('pipes'));
  const login = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
});
test.after.always(async () => td?.close());

/** Runs the CLI with its stdout closed before it prints anything; its exit code and what it said on stderr. */
function withStdoutClosed(args: string[], input = ''): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TASKMASTER_BIN, ...args], {
      env: baseEnv({ TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone, as after `| head -1` has its line
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.on('error', () => undefined); // a command that reads no stdin may be gone already
    child.stdin.end(input);
  });
}

// Every command that prints more than one line on stdout.
const commands: { title: string; args: () => string[]; input?: () => string }[] = [
  { title: '--help', args: () => ['--help'] },
  { title: 'login --help', args: () => ['login', '--help'] },
  { title: 'the home dashboard', args: () => [] },
  { title: 'profile', args: () => ['profile'] },
  { title: 'sessions', args: () => ['sessions'] },
  { title: 'sessions --json', args: () => ['sessions', '--json'] },
  { title: 'activity', args: () => ['activity'] },
  { title: 'activity --json', args: () => ['activity', '--json'] },
  { title: 'status', args: () => ['status'] },
  { title: 'completion bash', args: () => ['completion', 'bash'] },
  { title: 'login (then the dashboard)', args: () => ['login', '--email', account.email, '--password-stdin'], input: () => `${account.password}\n` },
];

for (const command of commands) {
  test(`taskmaster ${command.title} into a closed pipe ends quietly with the work's exit status 0`, async (t) => {
    const result = await withStdoutClosed(command.args(), command.input?.());
    t.is(result.code, 0, result.stderr);
    t.false(/EPIPE|Error:|at .*\.js:\d+/.test(result.stderr), result.stderr);
  });
}

test('a refusal into a closed pipe still exits with its own status and says why on stderr', async (t) => {
  const result = await withStdoutClosed(['login', '--email', account.email, '--password-stdin'], 'not-the-password-at-all\n');
  t.is(result.code, 1);
  t.regex(result.stderr, /Email or password is not right/);
  t.false(/EPIPE|at .*\.js:\d+/.test(result.stderr), result.stderr);
});
