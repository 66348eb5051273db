// `taskmaster token`: the raw session token of this server, for `export TASKMASTER_TOKEN=$(taskmaster token)`.
// No server call: it says what is saved, not whether the server still accepts it (that is `status`).
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { NotLoggedInError } from '../errors.js';
import { examples } from '../help.js';
import { show } from '../ui.js';

export const TOKEN_ENV = 'TASKMASTER_TOKEN';

export interface CurrentToken {
  token: string;
  /** Where it comes from: `TASKMASTER_TOKEN`, or the config file's path. */
  source: string;
  /** The username saved with it at login (file tokens only). */
  savedUsername: string | undefined;
}

/** The token the other commands would send to `server`, resolved the same way as `ctx.api({ session: true })`. */
export async function currentToken(ctx: Context, server: string): Promise<CurrentToken | undefined> {
  const fromEnv = ctx.env[TOKEN_ENV];
  if (fromEnv) return { token: fromEnv, source: TOKEN_ENV, savedUsername: undefined };
  const config = await ctx.config();
  const entry = config.entry(server);
  return entry?.token ? { token: entry.token, source: config.path, savedUsername: entry.username } : undefined;
}

export function notLoggedIn(server: string): NotLoggedInError {
  return new NotLoggedInError(`You are not logged in to ${server}: no ${TOKEN_ENV} and no saved session. Run \`taskmaster login\`.`);
}

export async function run(ctx: Context): Promise<void> {
  const server = await ctx.server();
  const current = await currentToken(ctx, server);
  if (!current) throw notLoggedIn(server);
  show(ctx.io, { server, token: current.token, tokenSource: current.source }, () => [current.token]);
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('token')
    .description('print the session token of this server, for scripts (no server call; exit 4 when there is none)')
    .addHelpText(
      'after',
      `
The token is a password for your account: keep it out of logs and shared shells.
${examples('export TASKMASTER_TOKEN=$(taskmaster token)', 'taskmaster token --server https://tasks.example.com')}`,
    )
    .action(async (_options, command: Command) => run(makeContext(command)));
}
