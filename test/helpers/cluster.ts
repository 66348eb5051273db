// Several real daemon processes on one database, as behind a load balancer.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StartOptions } from '../../server/main.js';
import { baseEnv } from './cli.js';

const DAEMON_PROCESS = fileURLToPath(new URL('./daemon-process.ts', import.meta.url));

export interface DaemonProcess {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

export function startDaemonProcess(env: Record<string, string>, options: StartOptions = {}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', DAEMON_PROCESS, JSON.stringify(options)], {
    env: baseEnv({ BCRYPT_COST: '4', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ended = (signal: NodeJS.Signals) => async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk;
      const url = /listening on (http:\/\/[^"\s]+)/.exec(out)?.[1];
      if (url) resolve({ url, child, output: () => out, stop: ended('SIGTERM'), kill: ended('SIGKILL') });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`daemon exited ${code} before listening: ${out}`)));
  });
}

/** `count` daemons on the same environment (and so the same DATABASE_URL), started at the same moment. */
export async function startDaemonProcesses(count: number, env: Record<string, string>, options: StartOptions = {}): Promise<DaemonProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startDaemonProcess(env, options)));
}
