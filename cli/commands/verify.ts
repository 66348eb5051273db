// `taskmaster verify [TOKEN]`: activates the account (or confirms a new email) with the emailed
// token; `verify --resend --email E` asks for a new one.
import type { Command } from 'commander';
import { emailProblem, tokenFromInput } from '../../server/contract/rules.js';
import { valueOrAsk, type Context } from '../context.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success } from '../ui.js';

export interface VerifyOptions {
  resend?: boolean;
  email?: string;
}

export async function run(ctx: Context, tokenArgument: string | undefined, options: VerifyOptions): Promise<void> {
  if (options.resend) return resend(ctx, tokenArgument, options.email);
  if (options.email !== undefined) throw new UsageError('--email goes with --resend: `taskmaster verify --resend --email you@example.com`.');
  const pasted = await valueOrAsk(ctx, tokenArgument, 'TOKEN (the token or the link from the email)', (p) =>
    p.input('Paste the token from your email (or the whole link):', { check: (v) => (v.trim() === '' ? 'Paste the token from the email.' : undefined) }),
  );
  const token = tokenFromInput(pasted);
  if (token === '') throw new UsageError('The token is empty: paste the token from the email.');
  const api = await ctx.api();
  const { user, outcome } = await api.verify(token);
  show(ctx.io, { user, outcome }, () => []);
  const name = ctx.io.err.bold(user.username);
  if (outcome === 'email_changed') {
    success(ctx.io, `Your new email ${user.email} is confirmed: it is the email of ${name} from now on.`);
    return;
  }
  if (outcome === 'activated') success(ctx.io, `Email ${user.email} verified. Your account ${name} is active.`);
  else success(ctx.io, `Already done: this token was used, and ${user.email} is the verified email of ${name}.`);
  // Someone who is logged in here (an email change confirmed twice) has no login to do.
  const loggedIn = Boolean(ctx.env.TASKMASTER_TOKEN || (await ctx.config()).entry(api.server)?.token);
  if (!loggedIn) note(ctx.io, 'Next: taskmaster login');
}

async function resend(ctx: Context, stray: string | undefined, flagEmail: string | undefined): Promise<void> {
  if (stray !== undefined) throw new UsageError('--resend takes no TOKEN: `taskmaster verify --resend --email you@example.com`.');
  const email = await valueOrAsk(ctx, flagEmail, '--email', (p) => p.input('Email of the account:', { check: emailProblem }));
  const problem = emailProblem(email);
  if (problem) throw new CliError(EXIT.refused, 'invalid_input', `email: ${problem}`);
  await (await ctx.api()).resendVerification(email);
  show(ctx.io, { status: 'accepted', email: email.trim() }, () => []);
  success(ctx.io, `If ${email.trim()} has an account waiting for verification, a new email is on its way.`);
  note(ctx.io, 'Then run: taskmaster verify');
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('verify')
    .description('activate your account with the token (or the whole link) from the email')
    .argument('[token]', 'the token from the email, or the whole link')
    .option('--resend', 'ask for a new verification email (with --email)')
    .option('--email <email>', 'the account\'s email, with --resend')
    .addHelpText('after', examples('taskmaster verify', 'taskmaster verify 5jY2CjCba4eFI0nT3Tvg…', "taskmaster verify 'http://127.0.0.1:4000/v1/verify?token=…'", 'taskmaster verify --resend --email me@example.com'))
    .action(async (token: string | undefined, options: VerifyOptions, command: Command) => run(makeContext(command), token, options));
}
