// `taskmaster account delete`: deletes the account for good, after the password and the username
// typed out; then forgets the session here.
import type { Command } from 'commander';
import { readPassword, withCode, type Context } from '../context.js';
import { ApiError, CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success } from '../ui.js';

export interface DeleteOptions {
  yes?: boolean;
  passwordStdin?: boolean;
  /** The second factor's code, when two-factor is on (asked at a terminal otherwise). */
  otp?: string;
}

export async function deleteAccount(ctx: Context, options: DeleteOptions): Promise<void> {
  // Without a terminal nothing can be asked: both the consent and the password come as flags.
  if (!ctx.io.interactive) {
    const missing = [options.yes ? undefined : '--yes', options.passwordStdin ? undefined : '--password-stdin'].filter(Boolean);
    if (missing.length > 0) {
      throw new UsageError(
        `Deleting the account without a terminal needs ${missing.join(' and ')}: pass --yes to confirm and pipe the password in with --password-stdin, e.g. \`printf %s "$PASSWORD" | taskmaster account delete --yes --password-stdin\`.`,
      );
    }
  }
  const api = await ctx.api({ session: true });
  const { user } = await api.me();
  if (ctx.io.interactive) {
    ctx.io.say(`${ctx.io.err.red('This deletes your account')} ${ctx.io.err.bold(user.username)} (${user.email}) on ${api.server} for good:`);
    ctx.io.say('its sessions everywhere, its tokens and its activity go with it. The username and the email become free for anyone.');
  }
  const password = await readPassword(ctx, options.passwordStdin, 'Your password:');
  if (!options.yes) {
    const typed = await (await ctx.prompt()).input(`Type your username (${user.username}) to confirm:`);
    if (typed !== user.username) throw new CliError(EXIT.refused, 'not_confirmed', `"${typed}" is not ${user.username}: nothing was deleted.`);
  }
  try {
    await withCode(ctx, options.otp, (code) => api.deleteAccount(password, code));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'wrong_password') {
      throw new CliError(error.exitCode, error.code, 'That is not the password of this account: nothing was deleted.');
    }
    throw error;
  }
  const forgotten = await (await ctx.config()).forget(api.server);
  show(ctx.io, { deleted: true, server: api.server, user: { username: user.username, email: user.email }, forgotten }, () => []);
  success(ctx.io, `Deleted the account ${user.username} on ${api.server}. A goodbye email is on its way to ${user.email}.`);
  note(ctx.io, 'You are logged out here. Changed your mind? The username and email are free: `taskmaster register`.');
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const account = program.command('account').description('your account as a whole: `account delete` deletes it');
  account
    .command('delete')
    .description('delete your account for good: asks your password, then your username typed out')
    .option('--yes', 'do not ask for the username (needed with --no-input or without a terminal)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--otp <code>', 'the code from your authenticator app (or a recovery code), when two-factor is on; asked at a terminal otherwise')
    .addHelpText(
      'after',
      `
Sessions, tokens and activity go with the account, on every device; a goodbye email goes to its
address. The username and the email become free again.
${examples('taskmaster account delete', 'printf %s "$PASSWORD" | taskmaster account delete --yes --password-stdin --no-input')}`,
    )
    .action(async (options: DeleteOptions, command: Command) => deleteAccount(makeContext(command), options));
}
