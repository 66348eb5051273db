// `taskmaster status`, after `gh auth status`: which server, which account, where the token comes
// from, when the session ends, and whether the server still accepts it. The exit code says the
// same with or without --json: 0 valid, 4 not logged in or ended, 3 unreachable.
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { ApiError, CliError, EXIT, UnreachableError } from '../errors.js';
import { examples } from '../help.js';
import { loginStatus, maskToken, show, type LoginStatus } from '../ui.js';
import { TOKEN_ENV, currentToken, notLoggedIn } from './token.js';

export async function run(ctx: Context): Promise<void> {
  const server = await ctx.server();
  const current = await currentToken(ctx, server);
  const status: LoginStatus = {
    server,
    state: 'not_logged_in',
    valid: false,
    username: current?.savedUsername ?? null,
    user: null,
    tokenSource: current?.source ?? null,
    token: current ? maskToken(current.token) : null,
    credential: null,
    expiresAt: null,
  };
  let failure: CliError | undefined;
  if (!current) {
    failure = notLoggedIn(server);
  } else {
    const api = await ctx.api({ session: true });
    // Both at once: one round trip of waiting. The session list is only for a session's expiry.
    const [me, sessions] = await Promise.allSettled([api.me(), api.sessions()]);
    if (me.status === 'fulfilled') {
      const { user, credential } = me.value;
      Object.assign(status, { state: 'valid', valid: true, user, username: user.username, credential });
      // An access token carries its own expiry; a session's is in the session list.
      if (credential.type === 'access_token') status.expiresAt = credential.expiresAt;
      else if (sessions.status === 'fulfilled') status.expiresAt = sessions.value.sessions.find((session) => session.current)?.expiresAt ?? null;
    } else if (me.reason instanceof UnreachableError) {
      Object.assign(status, { state: 'unreachable', valid: null });
      failure = me.reason;
    } else if (me.reason instanceof ApiError && me.reason.exitCode === EXIT.notLoggedIn) {
      status.state = 'ended';
      failure = new CliError(
        EXIT.notLoggedIn,
        'session_ended',
        current.token.startsWith('tmp_')
          ? `The access token in ${TOKEN_ENV} is no longer accepted by ${server}: ${me.reason.message}`
          : `The session for ${server} has ended (logged out, revoked or expired). Run \`taskmaster login\`${current.source === TOKEN_ENV ? `, or set ${TOKEN_ENV} to a valid token` : ''}.`,
      );
    } else {
      throw me.reason;
    }
  }
  show(ctx.io, status, () => loginStatus(ctx.io, status));
  if (failure) throw failure;
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('status')
    .description('show the server, your account, the token in use (masked; a session or an access token and its scopes), where it comes from, its expiry, and whether it is still valid')
    .addHelpText(
      'after',
      `
Exit codes (the same with --json): 0 the session is valid · 4 not logged in, or the session ended ·
3 the server cannot be reached.
${examples('taskmaster status', 'taskmaster status --json', 'taskmaster status --server https://tasks.example.com')}`,
    )
    .action(async (_options, command: Command) => run(makeContext(command)));
}
