// What every command gets (after gh's Factory): streams, the server, the config, the API, prompts.
// Config, HTTP client and prompts load on first use, so `--help` and `--version` stay light.
import type { Api } from './api.js';
import type { ConfigStore } from './config.js';
import { NotLoggedInError, UsageError } from './errors.js';
import type { IO } from './io.js';
import type { Check, Prompt } from './prompt.js';

export interface Context {
  io: IO;
  env: Record<string, string | undefined>;
  /** The daemon's base URL, resolved from --server, TASKMASTER_SERVER, the last login, the default. */
  server(): Promise<string>;
  config(): Promise<ConfigStore>;
  /** A client for the server; with `session`, it carries the saved or TASKMASTER_TOKEN token. */
  api(options?: { session?: boolean }): Promise<Api>;
  prompt(): Promise<Prompt>;
}

export function createContext(io: IO, env: Record<string, string | undefined>, serverFlag: string | undefined): Context {
  let config: Promise<ConfigStore> | undefined;
  let prompt: Promise<Prompt> | undefined;
  const context: Context = {
    io,
    env,
    config() {
      config ??= import('./config.js').then(({ ConfigStore }) => {
        const store = new ConfigStore(env.TASKMASTER_CONFIG_DIR || undefined);
        if (store.permissionsFixed) io.say(io.err.yellow(`warning: ${store.permissionsFixed}`));
        return store;
      });
      return config;
    },
    async server() {
      const explicit = serverFlag ?? (env.TASKMASTER_SERVER || undefined);
      const server = (await context.config()).resolveServer(explicit);
      if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(server)) {
        throw new UsageError(`The server URL must look like http://127.0.0.1:4000 or https://tasks.example.com (got "${server}"): check --server or TASKMASTER_SERVER.`);
      }
      return server;
    },
    async api(options = {}) {
      const [{ Api }, server] = await Promise.all([import('./api.js'), context.server()]);
      if (!options.session) return new Api(server, undefined);
      const token = env.TASKMASTER_TOKEN || (await context.config()).entry(server)?.token;
      if (!token) throw new NotLoggedInError(`You are not logged in to ${server}. Run \`taskmaster login\`.`);
      if (token.startsWith('tmp_')) {
        // Its checksum tells a cut or mistyped access token here, without a round trip.
        const { isWellFormedAccessToken } = await import('../server/contract/access-tokens.js');
        if (!isWellFormedAccessToken(token)) throw new NotLoggedInError('TASKMASTER_TOKEN is not a whole access token: its checksum does not match. Was it cut short or mistyped?');
      }
      return new Api(server, token);
    },
    prompt() {
      prompt ??= import('./prompt.js').then(({ createPrompt }) => createPrompt());
      return prompt;
    },
  };
  return context;
}

/**
 * A value from its flag, else asked at a terminal, else a usage error naming the flag.
 */
export async function valueOrAsk(
  ctx: Context,
  value: string | undefined,
  flag: string,
  ask: (prompt: Prompt) => Promise<string>,
): Promise<string> {
  if (value !== undefined) return value;
  if (!ctx.io.interactive) throw new UsageError(`Missing ${flag}: pass it (prompts need a terminal and no --no-input).`);
  return ask(await ctx.prompt());
}

/** The second factor's code: `--otp`, else asked at a terminal, else a usage error naming the flag. */
export async function askCode(ctx: Context, otp: string | undefined): Promise<string> {
  if (otp !== undefined) return otp;
  if (!ctx.io.interactive) throw new UsageError('This account has two-factor authentication on: pass --otp CODE (the code from your authenticator app, or a recovery code).');
  return (await ctx.prompt()).input('Code from your authenticator app (or a recovery code):', { check: (value) => (value.trim() === '' ? 'Type the code.' : undefined) });
}

/**
 * A request that needs re-authentication: sent with `--otp` when given; when the daemon answers
 * otp_required (two-factor is on), the code is asked and the request sent again.
 */
export async function withCode<T>(ctx: Context, otp: string | undefined, attempt: (code: string | undefined) => Promise<T>): Promise<T> {
  try {
    return await attempt(otp);
  } catch (error) {
    if (otp !== undefined || (error as { code?: string }).code !== 'otp_required') throw error;
    return attempt(await askCode(ctx, undefined));
  }
}

/** Reads a password: `--password-stdin`, or a masked prompt; never a flag value. */
export async function readPassword(ctx: Context, fromStdin: boolean | undefined, message: string, check?: Check): Promise<string> {
  if (fromStdin) {
    const { readFirstLine } = await import('./io.js');
    const password = await readFirstLine(ctx.io.stdin);
    if (password === '') throw new UsageError('--password-stdin read an empty password: pipe it in, e.g. `printf %s "$PASSWORD" | taskmaster … --password-stdin`.');
    return password;
  }
  if (!ctx.io.interactive) throw new UsageError('Missing password: pass --password-stdin and pipe the password in (prompts need a terminal).');
  return (await ctx.prompt()).password(message, check);
}
