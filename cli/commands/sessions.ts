// `taskmaster sessions`: where the account is logged in, this session marked; `sessions revoke ID`
// ends one, `sessions revoke --others` all but this one.
import type { Command } from 'commander';
import type { SessionInfo } from '../../server/contract/api.js';
import type { Context } from '../context.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success, table, utcMinute } from '../ui.js';

export async function run(ctx: Context): Promise<void> {
  const { sessions } = await (await ctx.api({ session: true })).sessions();
  show(ctx.io, { sessions }, () => sessionTable(ctx, sessions));
  const others = sessions.filter((session) => !session.current).length;
  if (others > 0) note(ctx.io, `End one with \`taskmaster sessions revoke ID\` (the first characters of the ID will do), or all but this one with \`taskmaster sessions revoke --others\`.`);
}

function sessionTable(ctx: Context, sessions: SessionInfo[]): string[] {
  const { out } = ctx.io;
  return table(
    ctx.io,
    ['', 'ID', 'CREATED', 'LAST USED', 'ADDRESS', 'USER AGENT'],
    sessions.map((session) => [
      session.current ? out.green('*') : '',
      session.current ? `${out.bold(session.id)} ${out.green('(this session)')}` : session.id,
      utcMinute(session.createdAt),
      utcMinute(session.lastUsedAt),
      session.address ?? '—',
      session.userAgent ?? '—',
    ]),
  );
}

export interface RevokeOptions {
  others?: boolean;
}

export async function revoke(ctx: Context, id: string | undefined, options: RevokeOptions): Promise<void> {
  if (id !== undefined && options.others) throw new UsageError('Pass a session ID or --others, not both.');
  if (id === undefined && !options.others) {
    throw new UsageError('Which session? Pass its ID (see `taskmaster sessions`), or --others to end all but this one.');
  }
  const api = await ctx.api({ session: true });
  if (options.others) {
    const { revoked } = await api.revokeSessions('others');
    show(ctx.io, { revoked }, () => []);
    if (revoked === 0) note(ctx.io, 'No other sessions: this is the only one.');
    else success(ctx.io, `Ended ${revoked} other session${revoked === 1 ? '' : 's'}; this one stays.`);
    return;
  }

  // An ID may be shortened to its first characters, as long as only one session starts with them.
  const { sessions } = await api.sessions();
  const wanted = id!.trim().toLowerCase();
  const matching = sessions.filter((session) => session.id === wanted || (wanted.length >= 4 && session.id.startsWith(wanted)));
  if (matching.length > 1) throw new UsageError(`"${id}" starts ${matching.length} session IDs: give more of it (see \`taskmaster sessions\`).`);
  const target = matching[0];
  // Said here, in the server's words, rather than sent: a path like "current" means something else there.
  if (!target) throw new CliError(EXIT.refused, 'not_found', `No session of yours has this id ("${id}"). List them with \`taskmaster sessions\`.`);
  await api.revokeSession(target.id);
  const forgotten = target.current ? await (await ctx.config()).forget(api.server) : false;
  show(ctx.io, { revoked: 1, id: target.id, current: target.current, forgotten }, () => []);
  const from = [target.userAgent, target.address].filter(Boolean).join(' from ');
  success(ctx.io, `Ended session ${target.id}${from ? ` (${from})` : ''}.`);
  if (target.current) note(ctx.io, 'That was this session: you are logged out here. Log in again with: taskmaster login');
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const sessions = program
    .command('sessions')
    .description('list where your account is logged in (this session marked); `sessions revoke` ends one or all others')
    .addHelpText('after', examples('taskmaster sessions', 'taskmaster sessions --json', 'taskmaster sessions revoke 3f9c2a1e', 'taskmaster sessions revoke --others'))
    .action(async (_options, command: Command) => run(makeContext(command)));

  sessions
    .command('revoke')
    .description('end one session by its ID (or the ID\'s first characters), or with --others every session but this one')
    .argument('[id]', 'the session ID from `taskmaster sessions`')
    .option('--others', 'end every session of your account except this one')
    .addHelpText('after', examples('taskmaster sessions revoke 3f9c2a1e-…', 'taskmaster sessions revoke --others', 'taskmaster logout --all   # every session, this one included'))
    .action(async (id: string | undefined, options: RevokeOptions, command: Command) => revoke(makeContext(command), id, options));
}
