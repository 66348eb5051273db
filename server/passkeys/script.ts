// The passkey script the pages load (/assets/passkeys.js): browser/passkeys.js with
// @simplewebauthn/browser, bundled by esbuild. `npm run build` writes it beside the daemon
// (dist/server/assets/passkeys.js); the daemon run from source (the tests) bundles it in memory
// once, with the same options, so it is never stale. Nothing is loaded from elsewhere.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** esbuild's options for the script (build.mjs uses the same). */
export const SCRIPT_BUILD = { bundle: true, platform: 'browser', format: 'esm', target: 'es2020', minify: true, legalComments: 'none', logLevel: 'warning' } as const;
export const SCRIPT_SOURCE = fileURLToPath(new URL('./browser/passkeys.js', import.meta.url));

let loaded: Promise<string> | undefined;

export function passkeyScript(): Promise<string> {
  loaded ??= load().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

async function load(): Promise<string> {
  // Run from dist/ (bundled into dist/server/main.js): the built file beside it.
  if (!import.meta.url.endsWith('.ts')) return readFile(new URL('./assets/passkeys.js', import.meta.url), 'utf8');
  // esbuild is a build-time dependency: named through a variable so the built daemon does not import it.
  const bundler: string = 'esbuild';
  const { build } = (await import(bundler)) as typeof import('esbuild');
  const result = await build({ ...SCRIPT_BUILD, entryPoints: [SCRIPT_SOURCE], write: false });
  return result.outputFiles[0]!.text;
}
