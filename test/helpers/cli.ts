// Runs the real bin/taskmaster as a child process with its own config folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TASKMASTER_BIN = fileURLToPath(new URL('../../bin/taskmaster', import.meta.url));
export const TASKMASTERD_BIN = fileURLToPath(new URL('../../bin/taskmasterd', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliUser {
  configDir: string;
  run(args: string[], options?: { input?: string; env?: Record<string, string | undefined> }): Promise<CliResult>;
}

/** A clean environment: no developer settings leak into the test. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

export interface RunProcessOptions {
  /** The whole environment of the child; a clean baseEnv() when left out. */
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed (closed empty when left out). */
  input?: string;
  cwd?: string;
  /** Killed after this long, keeping what it printed (ava's own timeout would lose it). */
  timeoutMs?: number;
}

/** Runs a command to its end and resolves with its exit code and everything it printed. */
export function runProcess(command: string, args: string[], options: RunProcessOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? baseEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const { timeoutMs } = options;
    const killer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[test] still running after ${timeoutMs / 1000} s: killed\n`;
            child.kill('SIGKILL');
          }, timeoutMs);
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
    // A command that never reads stdin may exit before the input is written: that is no failure of the test.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return runProcess(process.execPath, [TASKMASTER_BIN, ...args], { env, input });
}

/** A person at a shell: their own config folder, pointed at one server. */
export async function cliUser(server: string): Promise<CliUser> {
  const configDir = join(await mkdtemp(join(tmpdir(), 'taskmaster-cli-')), 'config');
  return {
    configDir,
    run: (args, options = {}) => runCli(args, baseEnv({ TASKMASTER_CONFIG_DIR: configDir, TASKMASTER_SERVER: server, ...options.env }), options.input),
  };
}

/** Starts the real bin/taskmasterd on port 0; resolves with its URL once it says it is listening. */
export function spawnDaemon(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [TASKMASTERD_BIN, '--port', '0', ...args], { env: baseEnv({ BCRYPT_COST: '4', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const url = /listening on (http:\/\/[^"\s]+)/.exec(out)?.[1];
      if (url) resolve({ child, url, log: () => out });
    });
    child.once('exit', (code) => reject(new Error(`taskmasterd exited ${code}: ${out}`)));
  });
}
