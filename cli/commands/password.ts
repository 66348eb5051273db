// `taskmaster password forgot | reset | change`: a reset email, a new password from its token, a
// change while logged in. New passwords are typed twice at a terminal and checked here with the
// daemon's own rules (the estimator loads only then).
import type { Command } from 'commander';
import type { PasswordContext } from '../../server/contract/rules.js';
import { emailProblem, passwordBasicProblem, tokenFromInput } from '../../server/contract/rules.js';
import { readPassword, valueOrAsk, withCode, type Context } from '../context.js';
import { ApiError, CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success } from '../ui.js';

export interface ForgotOptions {
  email?: string;
}

export async function forgot(ctx: Context, options: ForgotOptions): Promise<void> {
  const email = (await valueOrAsk(ctx, options.email, '--email', (p) => p.input('Email of your account:', { check: emailProblem }))).trim();
  const problem = emailProblem(email);
  if (problem) throw new CliError(EXIT.refused, 'invalid_input', `email: ${problem}`);
  await (await ctx.api()).forgotPassword(email);
  show(ctx.io, { status: 'accepted', email }, () => []);
  success(ctx.io, `If ${email} has an account, a reset email is on its way. Its link and token work once, for 30 minutes.`);
  note(ctx.io, 'Then run: taskmaster password reset   and paste the token (or open the link in the email)');
}

export interface ResetOptions {
  passwordStdin?: boolean;
}

export async function reset(ctx: Context, tokenArgument: string | undefined, options: ResetOptions): Promise<void> {
  const pasted = await valueOrAsk(ctx, tokenArgument, 'TOKEN (the token or the link from the email)', (p) =>
    p.input('Paste the token from your email (or the whole link):', { check: (value) => (value.trim() === '' ? 'Paste the token from the email.' : undefined) }),
  );
  const token = tokenFromInput(pasted);
  if (token === '') throw new UsageError('The token is empty: paste the token from the email, or run `taskmaster password forgot` for a new one.');
  if (!options.passwordStdin && !ctx.io.interactive) throw new UsageError('Missing the new password: pass --password-stdin and pipe it in (prompts need a terminal).');
  const api = await ctx.api();
  // Before any password is typed: a dead token says so now, and the rules know whose account it is.
  const account = await api.resetTokenInfo(token).catch((error: unknown) => {
    throw explain(error);
  });
  if (ctx.io.interactive && !options.passwordStdin) ctx.io.say(`Choose a new password for ${ctx.io.err.bold(account.username)} (${account.email}).`);
  const password = await newPassword(ctx, options.passwordStdin, account, 'New password (8+ characters, hard to guess):');
  const { user } = await api.resetPassword(token, password).catch((error: unknown) => {
    throw explain(error);
  });
  // Every session of the account ended, this machine's too.
  const config = await ctx.config();
  const saved = config.entry(api.server);
  const forgotten = saved !== undefined && saved.username.toLowerCase() === user.username.toLowerCase() && (await config.forget(api.server));
  show(ctx.io, { user, forgotten }, () => []);
  success(ctx.io, `New password set for ${ctx.io.err.bold(user.username)}. Every session of the account has ended.`);
  note(ctx.io, 'Next: taskmaster login');
}

export interface ChangeOptions {
  passwordStdin?: boolean;
  /** The second factor's code, when two-factor is on (asked at a terminal otherwise). */
  otp?: string;
}

export async function change(ctx: Context, options: ChangeOptions): Promise<void> {
  if (!options.passwordStdin && !ctx.io.interactive) {
    throw new UsageError('Missing passwords: pass --password-stdin and pipe the current password and the new one, a line each, e.g. `printf \'%s\\n%s\\n\' "$OLD" "$NEW" | taskmaster password change --password-stdin`.');
  }
  const api = await ctx.api({ session: true });
  const { user } = await api.me();
  let currentPassword: string;
  let password: string;
  if (options.passwordStdin) {
    [currentPassword, password] = await twoLines(ctx);
    refuseNew(await problemOf(password, user));
  } else {
    currentPassword = await (await ctx.prompt()).password('Current password:');
    password = await newPassword(ctx, false, user, 'New password (8+ characters, hard to guess):');
  }
  if (password === currentPassword) throw new CliError(EXIT.refused, 'invalid_input', 'new password: it is the same as the current one. Choose another.');
  const changed = await withCode(ctx, options.otp, (code) => api.changePassword({ currentPassword, newPassword: password, ...(code ? { code } : {}) })).catch((error: unknown) => {
    throw explain(error);
  });
  const { revokedSessions } = changed;
  show(ctx.io, changed, () => []);
  success(ctx.io, 'Password changed. This session stays logged in.');
  note(
    ctx.io,
    revokedSessions === 0 ? 'No other session was open.' : `${revokedSessions} other session${revokedSessions === 1 ? '' : 's'} ended: those devices log in again with the new password.`,
  );
}

/** A new password: from stdin (checked here, once), or typed twice at a terminal until the two match. */
async function newPassword(ctx: Context, fromStdin: boolean | undefined, account: PasswordContext, message: string): Promise<string> {
  if (fromStdin || !ctx.io.interactive) {
    const password = await readPassword(ctx, fromStdin, message);
    refuseNew(await problemOf(password, account));
    return password;
  }
  const { passwordProblem } = await import('../../server/contract/password-strength.js');
  const prompt = await ctx.prompt();
  for (;;) {
    const password = await prompt.password(message, (value) => passwordBasicProblem(value, account) ?? passwordProblem(value, account));
    if ((await prompt.password('New password again:')) === password) return password;
    ctx.io.say(ctx.io.err.red('The passwords do not match. Try again.'));
  }
}

/** The daemon's rules, with the estimator loaded only now: its dictionaries are large. */
async function problemOf(password: string, account: PasswordContext): Promise<string | undefined> {
  const { passwordProblem } = await import('../../server/contract/password-strength.js');
  return passwordProblem(password, { username: account.username, email: account.email });
}

function refuseNew(problem: string | undefined): void {
  if (problem) throw new CliError(EXIT.refused, 'invalid_input', `new password: ${problem}`);
}

/** `--password-stdin` for a change: line 1 the current password, line 2 the new one. */
async function twoLines(ctx: Context): Promise<[string, string]> {
  let text = '';
  for await (const chunk of ctx.io.stdin) text += chunk.toString();
  const [current = '', next = ''] = text.split(/\r?\n/);
  if (current === '' || next === '') {
    throw new UsageError('--password-stdin needs two lines: the current password, then the new one, e.g. `printf \'%s\\n%s\\n\' "$OLD" "$NEW" | taskmaster password change --password-stdin`.');
  }
  return [current, next];
}

/** Refusals worded with the way on. */
function explain(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  if (error.code === 'invalid_token') {
    return new CliError(error.exitCode, error.code, 'This reset token does not work: it was used, replaced by a newer email, has expired (30 minutes), or was mistyped. Ask for a new one: `taskmaster password forgot`.');
  }
  if (error.code === 'wrong_password') return new CliError(error.exitCode, error.code, 'The current password is not right; nothing changed. Forgot it? Run `taskmaster password forgot`.');
  if (error.code === 'invalid_input' && error.fieldErrors) {
    const [field, message] = Object.entries(error.fieldErrors)[0] ?? [];
    if (field && message) return new CliError(error.exitCode, error.code, `${field === 'newPassword' || field === 'password' ? 'new password' : field}: ${message}`);
  }
  return error;
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const password = program.command('password').description('forgot your password, set a new one from the emailed token, or change it');
  password
    .command('forgot')
    .description('ask for a password reset email (the same answer whether or not the email has an account)')
    .option('--email <email>', 'the email of your account')
    .addHelpText('after', examples('taskmaster password forgot', 'taskmaster password forgot --email me@example.com'))
    .action(async (options: ForgotOptions, command: Command) => forgot(makeContext(command), options));
  password
    .command('reset')
    .description('set a new password with the token (or the whole link) from the reset email; every session ends')
    .argument('[token]', 'the token from the email, or the whole link')
    .option('--password-stdin', 'read the new password from the first line of stdin')
    .addHelpText('after', examples('taskmaster password reset', "taskmaster password reset 'http://127.0.0.1:4000/v1/password/reset?token=…'", 'printf %s "$NEW" | taskmaster password reset TOKEN --password-stdin'))
    .action(async (token: string | undefined, options: ResetOptions, command: Command) => reset(makeContext(command), token, options));
  password
    .command('change')
    .description('change your password: the current one, then the new one twice; your other sessions end')
    .option('--password-stdin', 'read line 1 as the current password and line 2 as the new one')
    .option('--otp <code>', 'the code from your authenticator app (or a recovery code), when two-factor is on; asked at a terminal otherwise')
    .addHelpText('after', examples('taskmaster password change', `printf '%s\\n%s\\n' "$OLD" "$NEW" | taskmaster password change --password-stdin`))
    .action(async (options: ChangeOptions, command: Command) => change(makeContext(command), options));
}
