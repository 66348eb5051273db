// The two undici modules the CLI uses (see cli/api.ts for why only these), in one place. build.mjs
// bundles this file on its own, as CommonJS (dist/cli/chunks/undici-<hash>.cjs), which cli/api.ts
// loads through V8's code cache (cli/code-cache.ts): undici is most of what a command compiles.
import Client from 'undici/lib/dispatcher/client.js';
import request from 'undici/lib/api/api-request.js';

export { Client, request };
