// `taskmaster register`: creates an account, asking for what no flag gave; the password is checked
// here with the daemon's own estimator before anything is sent.
import type { Command } from 'commander';
import { emailProblem, passwordBasicProblem, usernameProblem } from '../../server/contract/rules.js';
import { readPassword, valueOrAsk, type Context } from '../context.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success } from '../ui.js';

export interface RegisterOptions {
  email?: string;
  username?: string;
  passwordStdin?: boolean;
}

export async function run(ctx: Context, options: RegisterOptions): Promise<void> {
  const email = await valueOrAsk(ctx, options.email, '--email', (p) => p.input('Email:', { check: emailProblem }));
  const username = await valueOrAsk(ctx, options.username, '--username', (p) => p.input('Username:', { check: usernameProblem }));
  const refuse = (field: string, problem: string | undefined) => {
    if (problem) throw new CliError(EXIT.refused, 'invalid_input', `${field}: ${problem}`);
  };
  refuse('email', emailProblem(email));
  refuse('username', usernameProblem(username));

  // The same estimator as the daemon, loaded only now: its dictionaries are large.
  const { passwordProblem } = await import('../../server/contract/password-strength.js');
  const context = { username, email };
  let password: string;
  if (options.passwordStdin || !ctx.io.interactive) {
    password = await readPassword(ctx, options.passwordStdin, 'Password:');
    refuse('password', passwordProblem(password, context));
  } else {
    const prompt = await ctx.prompt();
    for (;;) {
      password = await prompt.password('Password (8+ characters, hard to guess):', (value) => passwordBasicProblem(value, context) ?? passwordProblem(value, context));
      const again = await prompt.password('Password again:');
      if (again === password) break;
      ctx.io.say(ctx.io.err.red('The passwords do not match. Try again.'));
    }
  }
  if (password === undefined) throw new UsageError('Missing password.');

  const api = await ctx.api();
  const { user } = await api.register({ email, username, password });
  show(ctx.io, { user }, () => []);
  success(ctx.io, `Account ${ctx.io.err.bold(user.username)} created.`);
  note(ctx.io, `Check ${user.email} for the verification email, then run:\n  taskmaster verify            and paste the token\n  (or open the link in the email)`);
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('register')
    .description('create an account; asks for what is missing (password masked, typed twice)')
    .option('--email <email>', 'email address')
    .option('--username <name>', '3–32 letters, digits, "-", "_", "."; starts with a letter or digit')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .addHelpText('after', examples('taskmaster register', 'printf %s "$PASSWORD" | taskmaster register --email me@example.com --username me --password-stdin'))
    .action(async (options: RegisterOptions, command: Command) => run(makeContext(command), options));
}
