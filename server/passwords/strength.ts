// Password strength for the daemon. zxcvbn takes ~10 ms of CPU a password (~25 ms on a slower
// machine); run on the event loop, 40 registrations at once held it for a second, and every query
// in flight, holding SQLite's one connection, waited that long to finish. So the estimator runs
// in a worker thread: the same rules (server/contract/password-strength.ts), the same answers.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { passwordBasicProblem, type PasswordContext } from '../contract/rules.js';

// The worker is a build entry of its own next to the daemon (build.mjs), or the TypeScript source under tsx.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './strength-worker.ts' : './password-strength-worker.js', import.meta.url);

let pool: Piscina | undefined;

/**
 * One pool per process, shared by every daemon in it. One thread checks ~100 passwords a second,
 * far more than bcrypt lets a core register; a quarter of the cores keeps pace on a large machine.
 */
function estimatorPool(): Piscina {
  pool ??= new Piscina({ filename: workerFile.href, minThreads: 1, maxThreads: Math.max(1, Math.ceil(availableParallelism() / 4)), idleTimeout: 60_000 });
  return pool;
}

/**
 * Starts the worker and has it check one password, so the dictionaries are loaded before the daemon
 * listens and the first registration does not wait for them (a worker's start took seconds on a
 * busy machine).
 */
export async function warmPasswordCheck(): Promise<void> {
  await estimatorPool().run({ password: 'warm-up', context: {} });
}

/** Every password rule: the cheap ones here, the strength estimate in the worker. */
export async function passwordProblem(password: string, context: PasswordContext): Promise<string | undefined> {
  const basic = passwordBasicProblem(password, context);
  if (basic) return basic;
  return (await estimatorPool().run({ password, context })) as string | undefined;
}
