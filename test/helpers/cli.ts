// Runs the real bin/taskmaster as a child process with its own config folder.
import { spawn } from 'node:child_process';
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

export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TASKMASTER_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A person at a shell: their own config folder, pointed at one server. */
export async function cliUser(server: string): Promise<CliUser> {
  const configDir = join(await mkdtemp(join(tmpdir(), 'taskmaster-cli-')), 'config');
  return {
    configDir,
    run: (args, options = {}) => runCli(args, baseEnv({ TASKMASTER_CONFIG_DIR: configDir, TASKMASTER_SERVER: server, ...options.env }), options.input),
  };
}
