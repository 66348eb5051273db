// Bare `taskmaster`: the dashboard when logged in, else the way in; at a terminal, a menu that runs
// the other commands' flows.
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { CliError, EXIT, NotLoggedInError } from '../errors.js';
import { commandHints, dashboard, show } from '../ui.js';
import * as accountCommand from './account.js';
import * as activityCommand from './activity.js';
import * as loginCommand from './login.js';
import * as logoutCommand from './logout.js';
import * as passwordCommand from './password.js';
import * as profileCommand from './profile.js';
import * as registerCommand from './register.js';
import * as sessionsCommand from './sessions.js';
import * as statusCommand from './status.js';
import * as verifyCommand from './verify.js';
import * as twoFactorCommand from './two-factor.js';

/** What the menu can run: each entry's command, as if typed with no flags (see flows() below). */
export interface Flows {
  login(): Promise<void>;
  loginWeb(): Promise<void>;
  register(): Promise<void>;
  verify(): Promise<void>;
  forgotPassword(): Promise<void>;
  resetPassword(): Promise<void>;
  profileUpdate(): Promise<void>;
  changePassword(): Promise<void>;
  twoFactor(): Promise<void>;
  sessions(): Promise<void>;
  activity(): Promise<void>;
  status(): Promise<void>;
  logout(): Promise<void>;
  logoutAll(): Promise<void>;
  deleteAccount(): Promise<void>;
}

interface Hint {
  command: string;
  does: string;
  /** The flow it runs from the menu, and the menu entry; none for a hint that is only printed. */
  flow?: keyof Flows;
  label?: string;
}

const LOGGED_OUT: Hint[] = [
  { command: 'taskmaster login', does: 'log in', flow: 'login', label: 'Log in' },
  { command: 'taskmaster login --web', does: 'log in through your browser (works over SSH too)', flow: 'loginWeb', label: 'Log in with my browser' },
  { command: 'taskmaster register', does: 'create an account', flow: 'register', label: 'Create an account' },
  { command: 'taskmaster verify', does: 'activate it with the token from the email', flow: 'verify', label: 'Verify my email' },
  { command: 'taskmaster verify --resend --email E', does: 'get a new verification email' },
  { command: 'taskmaster password forgot', does: 'get an email to reset your password', flow: 'forgotPassword', label: 'I forgot my password' },
  { command: 'taskmaster password reset', does: 'set a new password with the token from that email', flow: 'resetPassword', label: 'Reset my password with the token from the email' },
];

/** The logged-in menu; the dashboard above it shows the account. */
const LOGGED_IN: { flow: keyof Flows; label: string }[] = [
  { flow: 'profileUpdate', label: 'Change my username or email' },
  { flow: 'changePassword', label: 'Change my password' },
  { flow: 'twoFactor', label: 'Two-factor authentication (a code from my phone at login)' },
  { flow: 'sessions', label: 'See where I am logged in' },
  { flow: 'activity', label: 'See recent activity on my account' },
  { flow: 'status', label: 'Check this login (server, token, expiry)' },
  { flow: 'logout', label: 'Log out' },
  { flow: 'logoutAll', label: 'Log out everywhere' },
  { flow: 'deleteAccount', label: 'Delete my account' },
];

/** Bare `taskmaster`: the dashboard when logged in, else the way in; at a terminal, a menu of what to do next. */
export async function run(ctx: Context, flows: Flows): Promise<void> {
  let expired = false;
  let session;
  try {
    const api = await ctx.api({ session: true });
    session = { server: api.server, user: (await api.me()).user };
  } catch (error) {
    if (!(error instanceof CliError && error.exitCode === EXIT.notLoggedIn)) throw error;
    // no saved session at all, or one the server no longer accepts
    expired = !(error instanceof NotLoggedInError);
  }
  if (session) {
    const { server, user } = session;
    if (!ctx.io.interactive) {
      show(ctx.io, { loggedIn: true, server, user }, () => dashboard(ctx.io, user, server));
      return;
    }
    // At a terminal, the menu offers what the dashboard's hints would list.
    for (const line of dashboard(ctx.io, user, server, { hints: false })) ctx.io.print(line);
    await menu(ctx, flows, LOGGED_IN);
    return;
  }
  const server = await ctx.server();
  if (!ctx.io.interactive) {
    show(ctx.io, { loggedIn: false, server }, () => loggedOutText(ctx, server, expired));
    return;
  }
  for (const line of loggedOutText(ctx, server, expired).slice(0, 2)) ctx.io.say(line);
  await menu(ctx, flows, LOGGED_OUT);
}

/** Offers the entries that have a flow, then Quit; runs the chosen one. */
async function menu(ctx: Context, flows: Flows, entries: { flow?: keyof Flows; label?: string }[]): Promise<void> {
  const choices = entries.flatMap(({ flow, label }) => (flow && label ? [{ name: label, value: flow as string }] : []));
  const choice = await (await ctx.prompt()).select('What would you like to do?', [...choices, { name: 'Quit', value: 'quit' }]);
  if (choice !== 'quit') await flows[choice as keyof Flows]();
}

function loggedOutText(ctx: Context, server: string, expired: boolean): string[] {
  const { out } = ctx.io;
  return [
    `${out.bold('TaskMaster')} — ${expired ? 'your session has ended' : 'you are not logged in'} (${server}).`,
    '',
    ...commandHints(ctx.io, LOGGED_OUT.map((hint) => [hint.command, hint.does])),
  ];
}

/** The chosen command runs in the home's own context: the config file is read once. */
function flows(ctx: Context): Flows {
  return {
    login: () => loginCommand.run(ctx, {}),
    loginWeb: () => loginCommand.run(ctx, { web: true }),
    register: () => registerCommand.run(ctx, {}),
    verify: () => verifyCommand.run(ctx, undefined, {}),
    forgotPassword: () => passwordCommand.forgot(ctx, {}),
    resetPassword: () => passwordCommand.reset(ctx, undefined, {}),
    changePassword: () => passwordCommand.change(ctx, {}),
    profileUpdate: () => profileCommand.update(ctx, {}),
    status: () => statusCommand.run(ctx),
    logout: () => logoutCommand.run(ctx),
    sessions: () => sessionsCommand.run(ctx),
    activity: () => activityCommand.run(ctx),
    logoutAll: () => logoutCommand.run(ctx, { all: true }),
    deleteAccount: () => accountCommand.deleteAccount(ctx, {}),
    // On: its status and how to turn it off; off: turn it on.
    twoFactor: async () => ((await (await ctx.api({ session: true })).me()).user.twoFactorEnabled ? twoFactorCommand.status(ctx) : twoFactorCommand.enable(ctx, {})),
  };
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  program.action(async (_options, command: Command) => {
    const ctx = makeContext(command);
    await run(ctx, flows(ctx));
  });
}
