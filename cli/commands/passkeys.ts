// `taskmaster passkeys`: the account's passkeys. `passkeys` (or `passkeys list`) lists them;
// `passkeys remove ID` removes one, with the password again (and the code when two-factor is on);
// `passkeys add` points to /account, where the browser adds one (a terminal cannot hold a passkey).
import type { Command } from 'commander';
import type { PasskeyInfo } from '../../server/contract/api.js';
import { readPassword, withCode, type Context } from '../context.js';
import { ApiError, CliError, EXIT, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success, table, utcMinute } from '../ui.js';

export interface RemoveOptions {
  passwordStdin?: boolean;
  otp?: string;
}

export async function list(ctx: Context): Promise<void> {
  const { passkeys } = await (await ctx.api({ session: true })).passkeys();
  show(ctx.io, { passkeys }, () => (passkeys.length === 0 ? [] : passkeyTable(ctx, passkeys)));
  if (passkeys.length === 0) note(ctx.io, 'No passkeys. Add one in your browser: `taskmaster passkeys add` opens the page.');
}

function passkeyTable(ctx: Context, passkeys: PasskeyInfo[]): string[] {
  return table(
    ctx.io,
    ['ID', 'NAME', 'ADDED', 'LAST USED'],
    passkeys.map((passkey) => [passkey.id, passkey.name, utcMinute(passkey.createdAt), passkey.lastUsedAt ? utcMinute(passkey.lastUsedAt) : 'never']),
  );
}

/** `passkeys remove ID`: the ID, or its first characters when only one passkey starts with them; the password (and code) again. */
export async function remove(ctx: Context, id: string, options: RemoveOptions): Promise<void> {
  const api = await ctx.api({ session: true });
  const { passkeys } = await api.passkeys();
  const wanted = id.trim().toLowerCase();
  const matching = passkeys.filter((passkey) => passkey.id === wanted || (wanted.length >= 4 && passkey.id.startsWith(wanted)));
  if (matching.length > 1) throw new UsageError(`"${id}" starts ${matching.length} passkey IDs: give more of it (see \`taskmaster passkeys\`).`);
  const target = matching[0];
  if (!target) throw new CliError(EXIT.refused, 'not_found', `No passkey of yours has this id ("${id}"). List them with \`taskmaster passkeys\`.`);
  const currentPassword = await readPassword(ctx, options.passwordStdin, `Your password (to remove the passkey "${target.name}"):`);
  try {
    await withCode(ctx, options.otp, (code) => api.removePasskey(target.id, { currentPassword, ...(code ? { code } : {}) }));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'wrong_password') throw new CliError(error.exitCode, error.code, 'That is not the password of this account: the passkey stays.');
    if (error instanceof ApiError && error.code === 'invalid_code') throw new CliError(error.exitCode, error.code, 'That code is not right, or was used already: the passkey stays.');
    throw error;
  }
  show(ctx.io, { removed: 1, id: target.id, name: target.name }, () => []);
  success(ctx.io, `Removed the passkey "${target.name}": it no longer signs in.`);
}

/** `passkeys add`: the page where the browser adds one, printed, and opened where a browser can be. */
export async function add(ctx: Context, options: { browser?: boolean }): Promise<void> {
  const page = `${await ctx.server()}/account#passkeys`;
  ctx.io.say(`Add a passkey in your browser, on your account page: ${ctx.io.err.cyan(page)}`);
  ctx.io.say(ctx.io.err.dim('Sign in there if asked (adding one needs a sign-in within the last 10 minutes), then press "Add a passkey".'));
  show(ctx.io, { url: page }, () => []);
  if (options.browser === false) return;
  const { noBrowserReason, openBrowser } = await import('../browser.js');
  const reason = noBrowserReason(ctx.env);
  if (reason) ctx.io.say(ctx.io.err.dim(`Not opening a browser: ${reason}. Open the page on any device.`));
  else if (await openBrowser(page, ctx.env)) ctx.io.say('Opened the page in your browser.');
  else ctx.io.say(ctx.io.err.yellow('Could not open a browser here: open the page yourself.'));
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const passkeys = program
    .command('passkeys')
    .description('your passkeys (sign in without a password, in the browser and through `login --web`): list, `add`, `remove ID`')
    .addHelpText('after', examples('taskmaster passkeys', 'taskmaster passkeys add', 'taskmaster passkeys remove 3f9c2a1e'))
    .action(async (_options, command: Command) => list(makeContext(command)));

  passkeys
    .command('list')
    .description('list your passkeys: ID, name, when added and last used')
    .addHelpText('after', examples('taskmaster passkeys list', 'taskmaster passkeys list --json'))
    .action(async (_options, command: Command) => list(makeContext(command)));

  passkeys
    .command('add')
    .description('print (and open, where a browser can be) the page where your browser adds a passkey')
    .option('--no-browser', 'only print the page\'s address (over SSH no browser is opened anyway)')
    .addHelpText('after', examples('taskmaster passkeys add', 'taskmaster passkeys add --no-browser'))
    .action(async (options: { browser?: boolean }, command: Command) => add(makeContext(command), options));

  passkeys
    .command('remove')
    .description('remove a passkey by its ID (or the ID\'s first characters): your password again, and a code when two-factor is on')
    .argument('<id>', 'the passkey\'s ID, from `taskmaster passkeys`')
    .option('--password-stdin', 'read your password from the first line of stdin')
    .option('--otp <code>', 'the code from your app, or a recovery code (asked at a terminal otherwise)')
    .addHelpText('after', examples('taskmaster passkeys remove 3f9c2a1e', 'printf %s "$PASSWORD" | taskmaster passkeys remove 3f9c2a1e --password-stdin --otp 123456'))
    .action(async (id: string, options: RemoveOptions, command: Command) => remove(makeContext(command), id, options));
}
