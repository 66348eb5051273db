// Small pieces the benchmarks share: starting target.ts in a child process and talking to it over
// IPC, the CPU time of other processes from /proc, and medians. The first few are copied from
// run.ts (which keeps its own copies for now), so a new bench needs not import run.ts, which runs
// the whole bench when loaded.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { threadPoolSizeFor } from '../../server/core/secrets.js';

const TARGET = fileURLToPath(new URL('./target.ts', import.meta.url));

export interface Target {
  child: ChildProcess;
  url: string;
  /** Session tokens of the seeded users (daemon targets; empty when started with 0 users). */
  tokens: string[];
  /** Emails of seeded users without two-factor, all with `password`. */
  emails: string[];
  password: string;
  ask<T>(message: object, reply: string): Promise<T>;
  /** Kills the target at once. */
  stop(): void;
}

/** Every child a bench started, so that one exit handler can end them all. */
export const children = new Set<ChildProcess>();

/** Forks test/bench/target.ts with `args` (see its header) and waits for its ready message. */
export async function startTarget(...args: string[]): Promise<Target> {
  // Every target gets the thread pool bin/taskmasterd gives the daemon.
  const env = { ...process.env, UV_THREADPOOL_SIZE: String(threadPoolSizeFor(availableParallelism())) };
  const child = fork(TARGET, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env });
  children.add(child);
  const ready = await new Promise<{ url: string; tokens?: string[]; emails?: string[]; password: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as never));
    child.once('exit', (code) => reject(new Error(`target ${args.join(' ')} exited ${code}`)));
  });
  return {
    child,
    url: ready.url,
    tokens: ready.tokens ?? [],
    emails: ready.emails ?? [],
    password: ready.password,
    // A target that is gone fails the question (and so the bench), instead of leaving it waiting.
    ask: (message, reply) =>
      new Promise((resolve, reject) => {
        const gone = () => {
          child.off('message', listen);
          reject(new Error(`target ${args.join(' ')} exited (code ${child.exitCode}, signal ${child.signalCode})`));
        };
        const listen = (answer: { type: string }) => {
          if (answer.type !== reply) return;
          child.off('message', listen);
          child.off('exit', gone);
          resolve(answer as never);
        };
        if (child.exitCode !== null || child.signalCode !== null) return gone();
        child.on('message', listen);
        child.once('exit', gone);
        child.send(message, (error) => error && gone());
      }),
    stop: () => void child.kill('SIGKILL'),
  };
}

export function pick<T>(values: T[]): T {
  return values[Math.floor(Math.random() * values.length)]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** A port nothing listens on now (on 127.0.0.1), for a server that takes its port from a file. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
export const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** After "pid (comm) ": state, ppid, …; utime and stime are the 12th and 13th of these fields. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU ms a process (all its threads) has used so far, from /proc/<pid>/stat; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const fields = statFields(pid);
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The parent pid of a process, from /proc. */
export function parentPid(pid: number): number {
  return Number(statFields(pid)[1]);
}

/** CPU ms used so far by a process and each of its children, by pid (a PostgreSQL server and its backends). */
export function treeCpu(parent: number): Map<number, number> {
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(entry);
      if (Number(entry) === parent || Number(fields[1]) === parent) used.set(Number(entry), ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return used;
}

/** Starts watching a process tree's CPU time; the returned function gives the ms used since (a child that ends in between is not counted). */
export function watchTreeCpu(parent: number): () => number {
  const before = treeCpu(parent);
  return () => {
    let ms = 0;
    for (const [pid, total] of treeCpu(parent)) ms += total - (before.get(pid) ?? 0);
    return ms;
  };
}

/** The machine's busy and total CPU time so far, in ticks, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total }; // idle and iowait
}
