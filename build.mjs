// Builds dist/: the daemon with its dependencies left in node_modules, and the CLI bundled
// into one file (fast start) with the prompt library and the password estimator in lazy chunks.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  define: { __TASKMASTER_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
};

/** The CLI never negotiates HTTP/2 (undici's allowH2 stays off): bundle a stub for its client. */
const noHttp2 = {
  name: 'no-http2',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /[\\/]client-h2(\.js)?$/ }, (args) =>
      args.importer.includes(`undici${'/'}lib${'/'}dispatcher`) ? { path: fileURLToPath(new URL('./cli/stubs/undici-client-h2.cjs', import.meta.url)) } : undefined,
    );
  },
};

rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });
const [, cli] = await Promise.all([
  // The password estimator's worker thread is an entry of its own beside the daemon (server/passwords/strength.ts).
  build({ ...common, entryPoints: { main: 'server/main.ts', 'password-strength-worker': 'server/passwords/strength-worker.ts' }, outdir: 'dist/server', packages: 'external' }),
  build({
    ...common,
    entryPoints: { main: 'cli/main.ts' },
    outdir: 'dist/cli',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    plugins: [noHttp2],
    metafile: true,
    // CommonJS dependencies inside an ESM bundle need a require of their own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  }),
]);
// What went into which CLI chunk, for the test that keeps server modules out and prompts lazy.
writeFileSync(new URL('./dist/cli/meta.json', import.meta.url), JSON.stringify(cli.metafile));
