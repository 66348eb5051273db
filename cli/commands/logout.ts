// `taskmaster logout`: ends the session on the server and forgets it here (locally even when the
// server is down); `logout --all` ends every session of the account.
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { CliError, EXIT, NotLoggedInError, UnreachableError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success } from '../ui.js';

export interface LogoutOptions {
  /** End every session of the account, this one included. */
  all?: boolean;
}

export async function run(ctx: Context, options: LogoutOptions = {}): Promise<void> {
  if (options.all) return logoutEverywhere(ctx);
  const config = await ctx.config();
  const server = await ctx.server();
  let revoked = false;
  let warning: string | undefined;
  try {
    await (await ctx.api({ session: true })).logout();
    revoked = true;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.notLoggedIn) {
      // nothing to revoke: the session was gone already
    } else if (error instanceof UnreachableError) {
      warning = `Could not reach ${server} to end the session there; it expires by itself. (${error.why})`;
    } else {
      throw error;
    }
  }
  // The local part happens whatever the server said.
  const forgotten = await config.forget(server);
  if (warning) ctx.io.say(ctx.io.err.yellow(`warning: ${warning}`));
  show(ctx.io, { loggedOut: true, server, revoked, forgotten }, () => []);
  if (revoked || forgotten) success(ctx.io, `Logged out of ${server}.`);
  else note(ctx.io, `You were not logged in to ${server}.`);
  note(ctx.io, 'Log in again with: taskmaster login');
}

/**
 * `logout --all`. Unlike a plain logout, an unreachable server is a failure that keeps the local
 * session: the other sessions still work, and this one is what can end them once the server answers.
 */
async function logoutEverywhere(ctx: Context): Promise<void> {
  const config = await ctx.config();
  const server = await ctx.server();
  let revoked: number;
  try {
    ({ revoked } = await (await ctx.api({ session: true })).revokeSessions('all'));
  } catch (error) {
    if (error instanceof UnreachableError) {
      throw new CliError(EXIT.unreachable, error.code, `${error.message} Nothing was ended: you stay logged in here, so run \`taskmaster logout --all\` again once it answers.`);
    }
    if (error instanceof CliError && error.exitCode === EXIT.notLoggedIn && !(error instanceof NotLoggedInError)) {
      // The saved session had ended already, so it cannot end the others.
      await config.forget(server);
      throw new CliError(EXIT.notLoggedIn, error.code, `The session here had already ended, so it could not end the others. Log in again and run \`taskmaster logout --all\`.`);
    }
    throw error;
  }
  const forgotten = await config.forget(server);
  show(ctx.io, { loggedOut: true, server, revoked, forgotten }, () => []);
  success(ctx.io, `Logged out everywhere: ended ${revoked} session${revoked === 1 ? '' : 's'} on ${server}, this one included.`);
  note(ctx.io, 'Log in again with: taskmaster login');
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('logout')
    .description('end the session on the server and forget it here (locally even when the server is down); --all: every session of your account')
    .option('--all', 'end every session of your account, this one included (the server must be reachable)')
    .addHelpText('after', examples('taskmaster logout', 'taskmaster logout --all', 'taskmaster logout --server https://tasks.example.com'))
    .action(async (options: LogoutOptions, command: Command) => run(makeContext(command), options));
}
