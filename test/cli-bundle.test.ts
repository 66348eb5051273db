// The CLI stays light: no server-only module in its bundle, and the heavy parts load on demand.
import { readFileSync } from 'node:fs';
import test from 'ava';

interface Metafile {
  outputs: Record<string, { imports: { path: string; kind: string }[]; inputs: Record<string, unknown>; entryPoint?: string }>;
}

const meta = JSON.parse(readFileSync(new URL('../dist/cli/meta.json', import.meta.url), 'utf8')) as Metafile;
const inputsOf = (output: string) => Object.keys(meta.outputs[output]?.inputs ?? {});
const allInputs = Object.values(meta.outputs).flatMap((output) => Object.keys(output.inputs));

test('the CLI bundle holds no server-only module: no koa, knex, bcrypt, sqlite3, zod or daemon code', (t) => {
  for (const banned of ['node_modules/koa/', 'node_modules/@koa/', 'node_modules/knex/', 'node_modules/bcrypt/', 'node_modules/sqlite3/', 'node_modules/nodemailer/', 'node_modules/pino/', 'node_modules/zod/', 'node_modules/piscina/']) {
    t.false(allInputs.some((input) => input.includes(banned)), banned);
  }
  const serverFiles = allInputs.filter((input) => input.startsWith('server/'));
  t.true(serverFiles.length > 0, 'the shared rules are bundled');
  t.deepEqual(serverFiles.filter((input) => !input.startsWith('server/contract/')), [], 'only the shared pure module');
});

test('the entry chunk loads neither inquirer, nor the password estimator, nor undici, nor conf', (t) => {
  const entry = Object.keys(meta.outputs).find((output) => meta.outputs[output]?.entryPoint === 'cli/main.ts')!;
  const staticChunks = new Set([entry]);
  // follow static imports only: what loads before any command runs
  for (const output of staticChunks) {
    for (const imported of meta.outputs[output]?.imports ?? []) if (imported.kind === 'import-statement' && meta.outputs[imported.path]) staticChunks.add(imported.path);
  }
  const eager = [...staticChunks].flatMap(inputsOf);
  for (const lazy of ['node_modules/inquirer/', 'node_modules/@inquirer/', 'node_modules/@zxcvbn-ts/', 'node_modules/undici/', 'node_modules/conf/', 'node_modules/ajv/']) {
    t.false(eager.some((input) => input.includes(lazy)), lazy);
  }
  t.true(allInputs.some((input) => input.includes('node_modules/inquirer/')), 'inquirer is bundled, in a lazy chunk');
});
