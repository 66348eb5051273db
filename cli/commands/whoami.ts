// `taskmaster whoami`: the username of this server's session (with --json, the account), for scripts.
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { examples } from '../help.js';
import { show } from '../ui.js';

export async function run(ctx: Context): Promise<void> {
  const { user } = await (await ctx.api({ session: true })).me();
  show(ctx.io, { user }, () => [user.username]);
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program
    .command('whoami')
    .description('print your username (with --json, your account)')
    .addHelpText('after', examples('taskmaster whoami', 'taskmaster whoami --json'))
    .action(async (_options, command: Command) => run(makeContext(command)));
}
