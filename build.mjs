// Builds dist/: the daemon with its dependencies left in node_modules, and the CLI bundled
// into one file (fast start) with the prompt library and the password estimator in lazy chunks,
// and undici in a CommonJS bundle of its own (loaded through V8's code cache).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** As server/passkeys/script.ts bundles it when the daemon runs from source. */
const SCRIPT_BUILD = { bundle: true, platform: 'browser', format: 'esm', target: 'es2020', minify: true, legalComments: 'none', logLevel: 'warning' };
const SCRIPT_SOURCE = 'server/passkeys/browser/passkeys.js';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);\n";
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
// undici, which every command that talks to the daemon loads, as a CommonJS bundle of its own: the
// CLI loads it through V8's code cache (cli/code-cache.ts), which Node 20 offers to scripts only.
// Its name carries a hash of its content, and so does its cache's.
const undici = await build({
  ...common,
  entryPoints: { undici: 'cli/undici.ts' },
  outdir: 'dist/cli/chunks',
  entryNames: '[name]-[hash]',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  minify: true,
  plugins: [noHttp2],
  metafile: true,
});
const undiciBundle = Object.keys(undici.metafile.outputs).find((output) => output.endsWith('.cjs'));
// The pages' passkey script (server/passkeys/script.ts serves it), with @simplewebauthn/browser, for the browser.
const passkeyScript = build({ ...SCRIPT_BUILD, entryPoints: [SCRIPT_SOURCE], outfile: 'dist/server/assets/passkeys.js' });
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
    // cli/api.ts lands in dist/cli/chunks/, beside the undici bundle.
    define: { ...common.define, __UNDICI_BUNDLE__: JSON.stringify(`./${basename(undiciBundle)}`) },
    // CommonJS dependencies inside an ESM bundle need a require of their own (dropped below where unused).
    banner: { js: REQUIRE_BANNER },
  }),
]);
await passkeyScript;
// A banner costs its chunk an import.meta and a Module, and a command loads several chunks: only a
// few ever call require (the one holding esbuild's __require helper among them).
for (const output of Object.keys(cli.metafile.outputs).filter((path) => path.endsWith('.js'))) {
  const code = readFileSync(output, 'utf8');
  if (code.startsWith(REQUIRE_BANNER) && !/\brequire\b/.test(code.slice(REQUIRE_BANNER.length))) writeFileSync(output, code.slice(REQUIRE_BANNER.length));
}
// What went into which CLI chunk, for the test that keeps server modules out and prompts lazy.
writeFileSync(
  new URL('./dist/cli/meta.json', import.meta.url),
  JSON.stringify({ inputs: { ...cli.metafile.inputs, ...undici.metafile.inputs }, outputs: { ...cli.metafile.outputs, ...undici.metafile.outputs } }),
);
