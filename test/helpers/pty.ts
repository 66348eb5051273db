// Drives bin/taskmaster at a real pseudo-terminal (node-pty), as a person would.
import pty from 'node-pty';
import { TASKMASTER_BIN, baseEnv } from './cli.js';

export interface Terminal {
  /** Everything shown so far, with ANSI escapes removed. */
  screen(): string;
  /** Everything shown so far, escapes included. */
  raw(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  type(text: string): void;
  exited: Promise<number>;
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Za-z0-9]|\u001b[>=]/g;

export function openTerminal(args: string[], env: Record<string, string | undefined>): Terminal {
  const child = pty.spawn(process.execPath, [TASKMASTER_BIN, ...args], {
    // node-pty sets TERM from `name`, so a test's own TERM goes here.
    name: env.TERM ?? 'xterm-256color',
    cols: 120,
    rows: 40,
    env: baseEnv({ TERM: 'xterm-256color', ...env }),
  });
  let output = '';
  child.onData((data) => (output += data));
  const exited = new Promise<number>((resolve) => child.onExit(({ exitCode }) => resolve(exitCode)));
  return {
    screen: () => output.replace(ANSI, ''),
    raw: () => output,
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output.replace(ANSI, ''))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${output.replace(ANSI, '')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    type(text) {
      child.write(text);
    },
    exited,
  };
}

export const ENTER = '\r';
export const DOWN = '\u001b[B';
