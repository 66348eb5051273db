// `taskmaster login`: logs in, saves the session for this server, and shows the dashboard; refusals
// name the way on (verify, password forgot, register).
import type { Command } from 'commander';
import { emailProblem } from '../../server/contract/rules.js';
import { askCode, readPassword, valueOrAsk, type Context } from '../context.js';
import { ApiError, CliError } from '../errors.js';
import { examples } from '../help.js';
import { dashboard, show, success } from '../ui.js';

export interface LoginOptions {
  email?: string;
  passwordStdin?: boolean;
  /** The second factor's code, for scripts (asked at a terminal when needed). */
  otp?: string;
}

export async function run(ctx: Context, options: LoginOptions): Promise<void> {
  const email = await valueOrAsk(ctx, options.email, '--email', (p) => p.input('Email:', { check: emailProblem }));
  const password = await readPassword(ctx, options.passwordStdin, 'Password:');
  const api = await ctx.api();
  const config = await ctx.config();
  const deviceToken = config.deviceToken(api.server);
  const device = deviceToken ? { deviceToken } : {};
  let session;
  try {
    session = await api.login({ email, password, ...(options.otp !== undefined ? { code: options.otp } : {}), ...device });
  } catch (error) {
    // Two-factor is on and no code came with the password: ask it, and finish with the challenge.
    if (!(error instanceof ApiError && error.code === 'otp_required' && error.challenge)) throw explain(error, email);
    const code = await askCode(ctx, undefined);
    try {
      session = await api.loginWithChallenge({ challenge: error.challenge, code, ...device });
    } catch (second) {
      throw explain(second, email);
    }
  }
  await config.saveLogin(api.server, { token: session.token, username: session.user.username }, session.deviceToken);
  show(ctx.io, { user: session.user, server: api.server, expiresAt: session.expiresAt }, () => ['', ...dashboard(ctx.io, session.user, api.server)]);
  success(ctx.io, `Logged in to ${api.server} as ${ctx.io.err.bold(session.user.username)}.`);
}

/** Login refusals name the way on. */
function explain(error: unknown, email: string): unknown {
  if (!(error instanceof ApiError)) return error;
  const quoted = email.trim();
  if (error.code === 'invalid_credentials') {
    return new CliError(
      error.exitCode,
      error.code,
      `Email or password is not right. Forgot your password? Run \`taskmaster password forgot\`. No account yet? Run \`taskmaster register\`.`,
    );
  }
  if (error.code === 'invalid_code') {
    return new CliError(error.exitCode, error.code, 'That code is not right, or was used already (a code is good once): wait for the next one, or use a recovery code.');
  }
  if (error.code === 'email_not_verified') {
    return new CliError(
      error.exitCode,
      error.code,
      `Your email is not verified yet. Paste the token from the email into \`taskmaster verify\`, or ask for a new one: \`taskmaster verify --resend --email ${quoted}\`.`,
    );
  }
  return error;
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('login')
    .description('log in, save the session for this server, and show the dashboard')
    .option('--email <email>', 'email address')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--otp <code>', 'the code from your authenticator app (or a recovery code), when two-factor is on; asked at a terminal otherwise')
    .addHelpText('after', examples('taskmaster login', 'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin', 'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin --otp 123456'))
    .action(async (options: LoginOptions, command: Command) => run(makeContext(command), options));
}
