// Builds the commander program, wires the context, and maps every error to an exit code here.
import { Command, CommanderError } from 'commander';
import { createContext, type Context } from './context.js';
import { CliError, EXIT } from './errors.js';
import { examples } from './help.js';
import { createIO, type IO } from './io.js';
// One module per command, its definition next to its run (gh style). Each is light: the heavy parts
// (prompts, HTTP client, conf through the context; the estimator by a dynamic import) load in a run.
// A command line that names a command defines that command alone (see buildProgram).
import * as homeCommand from './commands/home.js';
import * as registerCommand from './commands/register.js';
import * as verifyCommand from './commands/verify.js';
import * as loginCommand from './commands/login.js';
import * as whoamiCommand from './commands/whoami.js';
import * as profileCommand from './commands/profile.js';
import * as logoutCommand from './commands/logout.js';
import * as sessionsCommand from './commands/sessions.js';
import * as activityCommand from './commands/activity.js';
import * as accountCommand from './commands/account.js';
import * as passwordCommand from './commands/password.js';
import * as statusCommand from './commands/status.js';
import * as tokenCommand from './commands/token.js';
import * as twoFactorCommand from './commands/two-factor.js';
import * as passkeysCommand from './commands/passkeys.js';
import * as completionCommand from './commands/completion.js';

// In help order; home is the bare `taskmaster`.
const COMMANDS: readonly (readonly [name: string, command: { define(program: Command, makeContext: (command: Command) => Context): void }])[] = [
  ['', homeCommand],
  ['register', registerCommand],
  ['verify', verifyCommand],
  ['login', loginCommand],
  ['whoami', whoamiCommand],
  ['profile', profileCommand],
  ['logout', logoutCommand],
  ['sessions', sessionsCommand],
  ['activity', activityCommand],
  ['account', accountCommand],
  ['password', passwordCommand],
  ['status', statusCommand],
  ['token', tokenCommand],
  ['2fa', twoFactorCommand],
  ['passkeys', passkeysCommand],
  ['completion', completionCommand],
];
/** Commands that read the whole program. */
const NEEDS_ALL = new Set(['completion']);

/** The command a command line names, past the global options (`--server` is the one that takes a value). */
function namedCommand(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return undefined;
    if (arg === '--server') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

declare const __TASKMASTER_VERSION__: string | undefined;
const VERSION = typeof __TASKMASTER_VERSION__ === 'string' ? __TASKMASTER_VERSION__ : '0.0.0-dev';

interface GlobalOptions {
  server?: string;
  json?: boolean;
  input?: boolean;
  color?: boolean;
  verbose?: boolean;
}

export function buildProgram(io: IO, makeContext: (command: Command) => Context, argv: readonly string[] = []): Command {
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
  TASKMASTER_TOKEN       use this token instead of the saved session: an access token (tmp_…) for CI, or a session token
  TASKMASTER_CONFIG_DIR  folder of the config file
  TASKMASTER_NO_INPUT=1  like --no-input
  NO_COLOR               like --no-color

Exit codes:
  0 success · 1 the server refused · 2 usage error · 3 server unreachable · 4 not logged in or session ended
${examples('taskmaster register', 'taskmaster verify', 'taskmaster login', 'printf %s "$PASSWORD" | taskmaster login --email me@example.com --password-stdin', 'TASKMASTER_TOKEN=$TOKEN taskmaster whoami --json')}`,
    );

  // Defining every command costs more than some commands take to run (a script may call
  // `taskmaster whoami` in a loop): a command line that names one defines it alone. Help, completion
  // (which walks every command) and anything else define them all.
  const named = namedCommand(argv.slice(2));
  const only = named && !NEEDS_ALL.has(named) ? COMMANDS.find(([name]) => name === named) : undefined;
  for (const [, command] of only ? [only] : COMMANDS) command.define(program, makeContext);

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

/**
 * A reader that went away (`taskmaster activity | head -1`) is no error of ours: what is left to
 * print goes nowhere, the work finishes, and the exit status is the work's, as with git and gh.
 */
function tolerateClosedOutput(streams: NodeJS.WriteStream[]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    });
  }
}

export async function main(argv = process.argv, env: Record<string, string | undefined> = process.env): Promise<void> {
  tolerateClosedOutput([process.stdout, process.stderr]);
  // Output flags are needed before parsing succeeds (to report a parse error in the right form).
  const args = argv.slice(2);
  const flag = (name: string) => args.includes(name);
  const io = createIO({ json: flag('--json'), noInput: flag('--no-input'), color: !flag('--no-color'), verbose: flag('--verbose'), env });
  const program = buildProgram(
    io,
    (command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      return createContext(io, env, globals.server);
    },
    argv,
  );
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
