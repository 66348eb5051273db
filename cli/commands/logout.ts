import type { Context } from '../context.js';
import { CliError, EXIT, UnreachableError } from '../errors.js';
import { note, show, success } from '../ui.js';

export async function run(ctx: Context): Promise<void> {
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
