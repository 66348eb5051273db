// `taskmaster profile`: the account as the server has it; `profile update` changes the username or
// the email (an email change needs the current password and a confirmation from the new address).
import type { Command } from 'commander';
import { emailProblem, usernameProblem } from '../../server/contract/rules.js';
import { readPassword, withCode, type Context } from '../context.js';
import { ApiError, CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, profile, show, success } from '../ui.js';

export async function run(ctx: Context): Promise<void> {
  const { user } = await (await ctx.api({ session: true })).me();
  show(ctx.io, { user }, () => profile(ctx.io, user));
}

export interface UpdateOptions {
  username?: string;
  email?: string;
  passwordStdin?: boolean;
  /** The second factor's code, when two-factor is on (asked at a terminal otherwise). */
  otp?: string;
}

export async function update(ctx: Context, options: UpdateOptions): Promise<void> {
  const api = await ctx.api({ session: true });
  let { username, email } = options;
  if (username === undefined && email === undefined) {
    if (!ctx.io.interactive) throw new UsageError('Nothing to change: pass --username U and/or --email E.');
    const { user } = await api.me();
    const prompt = await ctx.prompt();
    const choice = await prompt.select('What do you want to change?', [
      { name: `Username (now ${user.username})`, value: 'username' },
      { name: `Email (now ${user.email})`, value: 'email' },
      { name: 'Both', value: 'both' },
    ]);
    if (choice !== 'email') username = await prompt.input('New username:', { default: user.username, check: usernameProblem });
    if (choice !== 'username') email = await prompt.input('New email:', { default: user.email, check: emailProblem });
  }
  const refuse = (field: string, problem: string | undefined) => {
    if (problem) throw new CliError(EXIT.refused, 'invalid_input', `${field}: ${problem}`);
  };
  if (username !== undefined) refuse('username', usernameProblem(username));
  if (email !== undefined) refuse('email', emailProblem(email));

  const currentPassword = email !== undefined ? await readPassword(ctx, options.passwordStdin, 'Current password (needed to change the email):') : undefined;
  if (email === undefined && options.passwordStdin) throw new UsageError('--password-stdin is only needed with --email.');

  const { user } = await withCode(ctx, email === undefined ? undefined : options.otp, (code) => api.updateMe({ username, email, currentPassword, ...(code ? { code } : {}) })).catch((error: unknown) => {
    throw explain(error);
  });
  const config = await ctx.config();
  await config.updateUsername(api.server, user.username);
  show(ctx.io, { user }, () => profile(ctx.io, user));
  success(ctx.io, 'Profile updated.');
  if (user.pendingEmail) {
    note(ctx.io, `Confirm ${user.pendingEmail} from the email we sent there; until then your email stays ${user.email}. Your other sessions were logged out.`);
  }
}

/** Refusals worded for someone who is logged in (the server's email_taken also serves registration). */
function explain(error: unknown): unknown {
  if (error instanceof ApiError && error.code === 'email_taken') {
    return new CliError(error.exitCode, error.code, 'Another account already uses this email. Choose another one; your email stays as it was.');
  }
  return error;
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const profileCommand = program
    .command('profile')
    .description('show your username, email, verification state, pending email and member-since date; `profile update` changes them')
    .addHelpText('after', examples('taskmaster profile', 'taskmaster profile update --username new-name'))
    .action(async (_options, command: Command) => run(makeContext(command)));

  profileCommand
    .command('update')
    .description('change your username or email; asks when no flag is given; an email change needs your current password')
    .option('--username <name>', 'new username')
    .option('--email <email>', 'new email (confirmed from a link sent there)')
    .option('--password-stdin', 'read the current password from the first line of stdin (for --email)')
    .option('--otp <code>', 'the code from your authenticator app (or a recovery code), when two-factor is on; asked at a terminal otherwise')
    .addHelpText('after', examples('taskmaster profile update', 'taskmaster profile update --username ada', 'printf %s "$PASSWORD" | taskmaster profile update --email new@example.com --password-stdin'))
    .action(async (options: UpdateOptions, command: Command) => update(makeContext(command), options));
}
