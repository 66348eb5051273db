// Builds dist/: the daemon with its dependencies left in node_modules, and the CLI bundled
// into one file (fast start) with the prompt library and the password estimator in lazy chunks.
import { readFileSync, rmSync } from 'node:fs';
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

rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });
await Promise.all([
  build({ ...common, entryPoints: { main: 'server/main.ts' }, outdir: 'dist/server', packages: 'external' }),
  build({
    ...common,
    entryPoints: { main: 'cli/main.ts' },
    outdir: 'dist/cli',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: false,
    // CommonJS dependencies inside an ESM bundle need a require of their own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  }),
]);
