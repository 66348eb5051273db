import type { Context } from '../context.js';
import { CliError, EXIT, NotLoggedInError } from '../errors.js';
import { dashboard, show } from '../ui.js';

type Choice = 'login' | 'register' | 'verify' | 'quit';

export interface Flows {
  login(): Promise<void>;
  register(): Promise<void>;
  verify(): Promise<void>;
}

/** Bare `taskmaster`: the dashboard when logged in, else the way in (a menu at a terminal). */
export async function run(ctx: Context, flows: Flows): Promise<void> {
  let expired = false;
  try {
    const api = await ctx.api({ session: true });
    const { user } = await api.me();
    show(ctx.io, { loggedIn: true, server: api.server, user }, () => dashboard(ctx.io, user, api.server));
    return;
  } catch (error) {
    if (!(error instanceof CliError && error.exitCode === EXIT.notLoggedIn)) throw error;
    // no saved session at all, or one the server no longer accepts
    expired = !(error instanceof NotLoggedInError);
  }
  const server = await ctx.server();
  if (!ctx.io.interactive) {
    show(ctx.io, { loggedIn: false, server }, () => loggedOutText(ctx, server, expired));
    return;
  }
  for (const line of loggedOutText(ctx, server, expired).slice(0, 2)) ctx.io.say(line);
  const choice = await (await ctx.prompt()).select<Choice>('What would you like to do?', [
    { name: 'Log in', value: 'login' },
    { name: 'Create an account', value: 'register' },
    { name: 'Verify my email', value: 'verify' },
    { name: 'Quit', value: 'quit' },
  ]);
  if (choice !== 'quit') await flows[choice]();
}

function loggedOutText(ctx: Context, server: string, expired: boolean): string[] {
  const { out } = ctx.io;
  return [
    `${out.bold('TaskMaster')} — ${expired ? 'your session has ended' : 'you are not logged in'} (${server}).`,
    '',
    `  ${out.cyan('taskmaster login')}                         log in`,
    `  ${out.cyan('taskmaster register')}                      create an account`,
    `  ${out.cyan('taskmaster verify')}                        activate it with the token from the email`,
    `  ${out.cyan('taskmaster verify --resend --email E')}     get a new verification email`,
  ];
}
