// `npm test`: ava over every suite, then the suites that load the whole machine, each on its own.
// The package test compiles sqlite3 from source for minutes (two cores busy): run beside the
// timing-sensitive suites it made them miss their bounds on a slower machine, so it runs after
// them, alone. Arguments go to each ava run (`npm test -- --tap`); naming test files runs just those.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Suites that run after the others, one at a time. */
const ALONE = ['test/package.test.ts'];

const ava = fileURLToPath(new URL('../node_modules/ava/entrypoints/cli.mjs', import.meta.url));
const args = process.argv.slice(2);
const named = args.filter((arg) => !arg.startsWith('-'));
const flags = args.filter((arg) => arg.startsWith('-'));

const suites = readdirSync(fileURLToPath(new URL('.', import.meta.url)))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `test/${name}`);
const runs = named.length > 0 ? [named] : [suites.filter((suite) => !ALONE.includes(suite)), ...ALONE.map((suite) => [suite])];

let failed = false;
for (const files of runs) {
  const { status, signal } = spawnSync(process.execPath, [ava, ...flags, ...files], { stdio: 'inherit' });
  if (signal) process.kill(process.pid, signal);
  if (status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
