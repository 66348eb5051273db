// Builds the commander program, wires the context, and maps every error to an exit code here.
import { Command, CommanderError } from 'commander';
import { createContext, type Context } from './context.js';
import { CliError, EXIT } from './errors.js';
import { createIO, type IO } from './io.js';
// These commands keep their definition next to their run (gh style); their modules are light.
import * as completionCommand from './commands/completion.js';
import * as statusCommand from './commands/status.js';
import * as tokenCommand from './commands/token.js';
import * as sessionsCommand from './commands/sessions.js';
import * as activityCommand from './commands/activity.js';
import * as accountCommand from './commands/account.js';
import * as passwordCommand from './commands/password.js';

declare const __TASKMASTER_VERSION__: string | undefined;
const VERSION = typeof __TASKMASTER_VERSION__ === 'string' ? __TASKMASTER_VERSION__ : '0.0.0-dev';

interface GlobalOptions {
  server?: string;
  json?: boolean;
  input?: boolean;
  color?: boolean;
  verbose?: boolean;
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

export function buildProgram(io: IO, makeContext: (command: Command) => Context): Command {
  const program = new Command('taskmaster')
    // Set before any subcommand is added: subcommands copy these settings when created.
    .exitOverride()
    .configureOutput({
      writeErr: (text) => {
        if (!io.json) io.stderr.write(text);
      },
      outputError: (text, write) => write(io.err.red(text)),
    })
    .description('TaskMaster from the terminal: create an account, verify it, log in, see and change your profile.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--server <url>', 'daemon base URL (env TASKMASTER_SERVER; default: the last login\'s, else http://127.0.0.1:4000)')
    .option('--json', 'print one JSON document on stdout; errors as {"error":{"code","message"}} on stderr')
    .option('--no-input', 'never prompt; a missing value is an error naming its flag (env TASKMASTER_NO_INPUT=1)')
    .option('--no-color', 'no colour (also off with NO_COLOR, TERM=dumb, or when not a terminal)')
    .option('--verbose', 'show details of unexpected errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Environment:
  TASKMASTER_SERVER      daemon base URL, like --server
  TASKMASTER_TOKEN       use this session token instead of the saved one (CI)
  TASKMASTER_CONFIG_DIR  folder of the config file
  TASKMASTER_NO_INPUT=1  like --no-input
  NO_COLOR               like --no-color

Exit codes:
  0 success · 1 the server refused · 2 usage error · 3 server unreachable · 4 not logged in or session ended
${examples('taskmaster register', 'taskmaster verify', 'taskmaster login', 'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin', 'TASKMASTER_TOKEN=$TOKEN taskmaster whoami --json')}`,
    );

  const flows = (command: Command) => {
    const ctx = makeContext(command);
    return {
      login: async () => (await import('./commands/login.js')).run(ctx, {}),
      register: async () => (await import('./commands/register.js')).run(ctx, {}),
      verify: async () => (await import('./commands/verify.js')).run(ctx, undefined, {}),
      forgotPassword: async () => passwordCommand.forgot(ctx, {}),
      resetPassword: async () => passwordCommand.reset(ctx, undefined, {}),
      changePassword: async () => passwordCommand.change(ctx, {}),
      profileUpdate: async () => (await import('./commands/profile.js')).update(ctx, {}),
      status: async () => statusCommand.run(ctx),
      logout: async () => (await import('./commands/logout.js')).run(ctx),
      sessions: async () => sessionsCommand.run(ctx),
      activity: async () => activityCommand.run(ctx),
      logoutAll: async () => (await import('./commands/logout.js')).run(ctx, { all: true }),
      deleteAccount: async () => accountCommand.deleteAccount(ctx, {}),
    };
  };
  program.action(async (_options, command: Command) => {
    await (await import('./commands/home.js')).run(makeContext(command), flows(command));
  });

  program
    .command('register')
    .description('create an account; asks for what is missing (password masked, typed twice)')
    .option('--email <email>', 'email address')
    .option('--username <name>', '3–32 letters, digits, "-", "_", "."; starts with a letter or digit')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .addHelpText('after', examples('taskmaster register', 'printf %s "$PASSWORD" | taskmaster register --email me@example.com --username me --password-stdin'))
    .action(async (options, command: Command) => (await import('./commands/register.js')).run(makeContext(command), options));

  program
    .command('verify')
    .description('activate your account with the token (or the whole link) from the email')
    .argument('[token]', 'the token from the email, or the whole link')
    .option('--resend', 'ask for a new verification email (with --email)')
    .option('--email <email>', 'the account\'s email, with --resend')
    .addHelpText('after', examples('taskmaster verify', 'taskmaster verify 5jY2CjCba4eFI0nT3Tvg…', "taskmaster verify 'http://127.0.0.1:4000/v1/verify?token=…'", 'taskmaster verify --resend --email me@example.com'))
    .action(async (token: string | undefined, options, command: Command) => (await import('./commands/verify.js')).run(makeContext(command), token, options));

  program
    .command('login')
    .description('log in, save the session for this server, and show the dashboard')
    .option('--email <email>', 'email address')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .addHelpText('after', examples('taskmaster login', 'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin'))
    .action(async (options, command: Command) => (await import('./commands/login.js')).run(makeContext(command), options));

  program
    .command('whoami')
    .description('print your username (with --json, your account)')
    .addHelpText('after', examples('taskmaster whoami', 'taskmaster whoami --json'))
    .action(async (_options, command: Command) => (await import('./commands/whoami.js')).run(makeContext(command)));

  const profile = program
    .command('profile')
    .description('show your username, email, verification state, pending email and member-since date; `profile update` changes them')
    .addHelpText('after', examples('taskmaster profile', 'taskmaster profile update --username new-name'))
    .action(async (_options, command: Command) => (await import('./commands/profile.js')).run(makeContext(command)));

  profile
    .command('update')
    .description('change your username or email; asks when no flag is given; an email change needs your current password')
    .option('--username <name>', 'new username')
    .option('--email <email>', 'new email (confirmed from a link sent there)')
    .option('--password-stdin', 'read the current password from the first line of stdin (for --email)')
    .addHelpText('after', examples('taskmaster profile update', 'taskmaster profile update --username ada', 'printf %s "$PASSWORD" | taskmaster profile update --email new@example.com --password-stdin'))
    .action(async (options, command: Command) => (await import('./commands/profile.js')).update(makeContext(command), options));

  program
    .command('logout')
    .description('end the session on the server and forget it here (locally even when the server is down); --all: every session of your account')
    .option('--all', 'end every session of your account, this one included (the server must be reachable)')
    .addHelpText('after', examples('taskmaster logout', 'taskmaster logout --all', 'taskmaster logout --server https://tasks.example.com'))
    .action(async (options, command: Command) => (await import('./commands/logout.js')).run(makeContext(command), options));

  sessionsCommand.define(program, makeContext);
  activityCommand.define(program, makeContext);
  accountCommand.define(program, makeContext);
  passwordCommand.define(program, makeContext);

  statusCommand.define(program, makeContext);
  tokenCommand.define(program, makeContext);
  completionCommand.define(program, makeContext);

  return program;
}

function reportError(io: IO, error: unknown): number {
  let code = 'unexpected';
  let message: string;
  let exitCode: number = EXIT.refused;
  if (error instanceof CliError) {
    ({ code, message, exitCode } = error);
  } else if ((error as Error)?.name === 'ExitPromptError') {
    code = 'cancelled';
    message = 'Cancelled.';
    exitCode = 130;
  } else {
    message = `Unexpected error: ${(error as Error)?.message ?? String(error)}${io.verbose ? '' : ' (run with --verbose for details)'}`;
    if (io.verbose && (error as Error)?.stack) message += `\n${(error as Error).stack}`;
  }
  if (io.json) io.say(JSON.stringify({ error: { code, message } }));
  else io.say(`${io.err.red('error:')} ${message}`);
  return exitCode;
}

export async function main(argv = process.argv, env: Record<string, string | undefined> = process.env): Promise<void> {
  // Output flags are needed before parsing succeeds (to report a parse error in the right form).
  const args = argv.slice(2);
  const flag = (name: string) => args.includes(name);
  const io = createIO({ json: flag('--json'), noInput: flag('--no-input'), color: !flag('--no-color'), verbose: flag('--verbose'), env });
  const program = buildProgram(io, (command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    return createContext(io, env, globals.server);
  });
  let exitCode: number = EXIT.ok;
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      const done = error.exitCode === 0 || ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
      if (!done && io.json) io.say(JSON.stringify({ error: { code: 'usage', message: error.message.replace(/^error: /, '') } }));
      exitCode = done ? EXIT.ok : EXIT.usage;
    } else {
      exitCode = reportError(io, error);
    }
  }
  // Exit as soon as the output is out: an idle HTTP client or compiler thread would otherwise
  // keep the process alive for a while after the work is done.
  await Promise.all([flush(io.stdout), flush(io.stderr)]);
  process.exit(exitCode);
}

function flush(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
  });
}
