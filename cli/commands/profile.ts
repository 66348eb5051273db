import { emailProblem, usernameProblem } from '../../server/contract/rules.js';
import { readPassword, type Context } from '../context.js';
import { ApiError, CliError, EXIT, UsageError } from '../errors.js';
import { note, profile, show, success } from '../ui.js';

export async function run(ctx: Context): Promise<void> {
  const { user } = await (await ctx.api({ session: true })).me();
  show(ctx.io, { user }, () => profile(ctx.io, user));
}

export interface UpdateOptions {
  username?: string;
  email?: string;
  passwordStdin?: boolean;
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

  const { user } = await api.updateMe({ username, email, currentPassword }).catch((error: unknown) => {
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
