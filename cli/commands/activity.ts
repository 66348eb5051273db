// `taskmaster activity`: the account's security events of the last 90 days, newest first.
import type { Command } from 'commander';
import type { AccountEvent, AccountEventType } from '../../server/contract/api.js';
import type { Context } from '../context.js';
import { examples } from '../help.js';
import type { IO } from '../io.js';
import { note, show, table, utcMinute } from '../ui.js';

const LABELS: Record<AccountEventType, string> = {
  login: 'logged in',
  login_failed: 'failed login',
  logout: 'logged out',
  password_changed: 'password changed',
  password_reset: 'password reset',
  email_changed: 'email changed',
  session_revoked: 'session ended',
  token_created: 'access token created',
  token_revoked: 'access token revoked',
  two_factor_enabled: 'two-factor turned on',
  two_factor_disabled: 'two-factor turned off',
  recovery_codes_regenerated: 'new recovery codes',
  recovery_code_used: 'recovery code used',
  code_failed: 'wrong two-factor code',
  device_approved: 'terminal login approved in the browser',
  passkey_added: 'passkey added',
  passkey_removed: 'passkey removed',
  account_disabled: 'account disabled',
  account_enabled: 'account enabled',
  account_unlocked: 'login blocks lifted',
  verification_resent: 'verification email sent again',
};

export async function run(ctx: Context): Promise<void> {
  const { events } = await (await ctx.api({ session: true })).events();
  show(ctx.io, { events }, () => (events.length === 0 ? [] : eventTable(ctx.io, events)));
  if (events.length === 0) note(ctx.io, 'No activity in the last 90 days.');
  else if (events.some((event) => event.type === 'login_failed' || event.type === 'password_reset')) {
    note(ctx.io, "Something you don't recognise? Change your password with `taskmaster password change`; it ends every other session.");
  }
}

function eventTable(io: IO, events: AccountEvent[]): string[] {
  return table(
    io,
    ['WHEN', 'EVENT', 'ADDRESS', 'USER AGENT'],
    events.map((event) => [
      utcMinute(event.at),
      // A failed login is the one to look at twice.
      event.type === 'login_failed' ? io.out.yellow(LABELS[event.type]) : (LABELS[event.type] ?? event.type),
      // An operator's action (taskmasterd users …) came from no address of the account's.
      event.actor === 'operator' ? 'by the operator' : (event.address ?? '—'),
      event.actor === 'operator' ? '—' : (event.userAgent ?? '—'),
    ]),
  );
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('activity')
    .description('what happened to your account in the last 90 days: logins, failed logins, logouts, password and email changes, ended sessions')
    .addHelpText('after', examples('taskmaster activity', 'taskmaster activity --json'))
    .action(async (_options, command: Command) => run(makeContext(command)));
}
