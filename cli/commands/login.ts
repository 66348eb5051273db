// `taskmaster login`: logs in, saves the session for this server, and shows the dashboard; refusals
// name the way on (verify, password forgot, register).
import type { Command } from 'commander';
import { emailProblem } from '../../server/contract/rules.js';
import { formatUserCode, normalizeUserCode, type DeviceCodeResponse, type DeviceTokenResponse } from '../../server/contract/device.js';
import type { User } from '../../server/contract/api.js';
import { askCode, readPassword, valueOrAsk, type Context } from '../context.js';
import { ApiError, CliError, EXIT, UnreachableError, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { dashboard, show, spinner, success } from '../ui.js';

export interface LoginOptions {
  email?: string;
  passwordStdin?: boolean;
  /** The second factor's code, for scripts (asked at a terminal when needed). */
  otp?: string;
  /** Log in through the browser (RFC 8628 device flow) instead of typing the password here. */
  web?: boolean;
  /** `--no-browser`: print the URL only. */
  browser?: boolean;
}

export async function run(ctx: Context, options: LoginOptions): Promise<void> {
  if (options.web) return runWeb(ctx, options);
  if (options.browser === false) throw new UsageError('--no-browser goes with --web: `taskmaster login --web --no-browser`.');
  // At a terminal, the other way in is named before the first question.
  if (ctx.io.interactive && options.email === undefined && !options.passwordStdin) {
    ctx.io.say(ctx.io.err.dim('Or log in through your browser (password manager, passkeys, works over SSH): taskmaster login --web'));
  }
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
  await loggedIn(ctx, api.server, { token: session.token, expiresAt: session.expiresAt, user: session.user, deviceToken: session.deviceToken });
}

/** How every login ends: the token saved for this server (with the device token), the dashboard. */
async function loggedIn(ctx: Context, server: string, session: { token: string; expiresAt: string; user: User; deviceToken: string }): Promise<void> {
  const config = await ctx.config();
  await config.saveLogin(server, { token: session.token, username: session.user.username }, session.deviceToken);
  show(ctx.io, { user: session.user, server, expiresAt: session.expiresAt }, () => ['', ...dashboard(ctx.io, session.user, server)]);
  success(ctx.io, `Logged in to ${server} as ${ctx.io.err.bold(session.user.username)}.`);
}

/**
 * `taskmaster login --web`: the device flow (RFC 8628). The code and the page are printed (the
 * code and the URL always, even with --json: without them nothing can happen); a browser opens
 * only where one can (see ../browser.ts); then the daemon is polled as it says, until the code is
 * approved, denied or expired, or Ctrl-C ends the wait with nothing saved.
 */
async function runWeb(ctx: Context, options: LoginOptions): Promise<void> {
  if (options.email !== undefined || options.passwordStdin || options.otp !== undefined) {
    throw new UsageError('--web logs in through the browser: leave out --email, --password-stdin and --otp (the browser asks for them).');
  }
  // Ctrl-C from the first line on ends the wait cleanly, with nothing saved.
  const cancelled = new AbortController();
  const onInterrupt = () => cancelled.abort();
  process.once('SIGINT', onInterrupt);
  let session: DeviceTokenResponse;
  try {
    session = await waitForApproval(ctx, options, cancelled.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  const api = await ctx.api();
  const expiresAt = new Date(Date.now() + session.expires_in * 1000).toISOString();
  await loggedIn(ctx, api.server, { token: session.access_token, expiresAt, user: session.user, deviceToken: session.device_token });
}

/** Asks for a code, shows it (and opens the page where a browser can open), then polls until the answer. */
async function waitForApproval(ctx: Context, options: LoginOptions, signal: AbortSignal): Promise<DeviceTokenResponse> {
  const api = await ctx.api();
  const config = await ctx.config();
  const { io } = ctx;
  const grant = checkedGrant(await api.deviceCode());
  if (signal.aborted) throw cancelledError();
  io.say(`First copy your one-time code: ${io.err.bold(grant.user_code)}`);
  io.say(`Then open this page to approve the login: ${io.err.cyan(grant.verification_uri_complete)}`);
  io.say(io.err.dim(`(or open ${grant.verification_uri} and type the code). Only approve a code you started here: approving gives this terminal full access to your account.`));
  if (options.browser !== false) {
    const { noBrowserReason, openBrowser } = await import('../browser.js');
    const reason = noBrowserReason(ctx.env);
    if (reason) io.say(io.err.dim(`Not opening a browser: ${reason}. Open the page on any device.`));
    else if (await openBrowser(grant.verification_uri_complete, ctx.env)) io.say('Opened the page in your browser.');
    else io.say(io.err.yellow('Could not open a browser here: open the page yourself.'));
  }
  const wait = spinner(io, 'Waiting for the approval in the browser… (Ctrl-C to cancel)');
  try {
    const session = await poll(ctx, grant.device_code, grant.interval, grant.expires_in, config.deviceToken(api.server), signal);
    if (signal.aborted) throw cancelledError();
    return session;
  } finally {
    wait.stop();
  }
}

/** Polls every `interval` seconds (5 more after each slow_down, RFC 8628 §3.5) until a session, a refusal, the expiry, or Ctrl-C. */
async function poll(ctx: Context, deviceCode: string, interval: number, expiresIn: number, deviceToken: string | undefined, signal: AbortSignal): Promise<DeviceTokenResponse> {
  const api = await ctx.api();
  const deadline = Date.now() + expiresIn * 1000;
  let seconds = interval;
  for (;;) {
    await sleep(seconds * 1000, signal);
    if (signal.aborted) throw cancelledError();
    if (Date.now() >= deadline) throw expiredError();
    try {
      const session = await api.deviceToken(deviceCode, deviceToken);
      if (signal.aborted) throw cancelledError();
      return session;
    } catch (error) {
      if (signal.aborted) throw cancelledError();
      // A daemon restarting, or a moment without network, is no answer: keep polling until the code expires.
      if (error instanceof UnreachableError || (error instanceof ApiError && error.status >= 500)) continue;
      if (!(error instanceof ApiError)) throw error;
      if (error.code === 'authorization_pending') continue;
      if (error.code === 'slow_down') {
        seconds += 5;
        continue;
      }
      if (error.code === 'access_denied') throw new CliError(EXIT.refused, 'access_denied', 'The login was denied in the browser. Nothing was saved. Run `taskmaster login --web` to try again.');
      if (error.code === 'expired_token') throw expiredError();
      throw error;
    }
  }
}

/**
 * The server's answer, before any of it is printed or handed to a browser opener: a user code of
 * the alphabet, and pages at http(s) addresses without control characters. A server that answers
 * otherwise (hostile, or not a taskmasterd) gets nothing opened and nothing written to the terminal.
 */
function checkedGrant(grant: DeviceCodeResponse): DeviceCodeResponse {
  const page = (text: unknown) => {
    if (typeof text !== 'string' || /[\u0000-\u0020\u007f"'<>\\^`{|}]/.test(text)) return false;
    try {
      const url = new URL(text);
      return url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      return false;
    }
  };
  const code = typeof grant.user_code === 'string' ? normalizeUserCode(grant.user_code) : undefined;
  if (!code || grant.user_code !== formatUserCode(code) || !page(grant.verification_uri) || !page(grant.verification_uri_complete) || typeof grant.device_code !== 'string') {
    throw new CliError(EXIT.refused, 'bad_device_code', 'The server answered a device code this client cannot use (not a taskmasterd of this version?). Nothing was opened.');
  }
  return grant;
}

function expiredError(): CliError {
  return new CliError(EXIT.refused, 'expired_token', 'The code expired before it was approved (codes last 15 minutes). Nothing was saved. Run `taskmaster login --web` for a new one.');
}

function cancelledError(): CliError {
  return new CliError(130, 'cancelled', 'Cancelled: nothing was saved.');
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
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
    .description('log in, save the session for this server, and show the dashboard; --web logs in through the browser')
    .option('--web', 'log in through the browser: prints a code and a page to approve it on (any device; works over SSH)')
    .option('--no-browser', 'with --web: print the page only, never open a browser')
    .option('--email <email>', 'email address')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--otp <code>', 'the code from your authenticator app (or a recovery code), when two-factor is on; asked at a terminal otherwise')
    .addHelpText(
      'after',
      examples(
        'taskmaster login',
        'taskmaster login --web',
        'taskmaster login --web --no-browser',
        'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin',
        'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin --otp 123456',
      ),
    )
    .action(async (options: LoginOptions, command: Command) => run(makeContext(command), options));
}
