// Streams and terminal facts, decided once: commands never look at process.* themselves.
import type { Readable, Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';

export interface IO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Prompts are allowed: stdin and stdout are TTYs and input was not disabled. */
  interactive: boolean;
  json: boolean;
  verbose: boolean;
  /** stderr is a terminal (and not TERM=dumb): a spinner may be drawn there. */
  progress: boolean;
  /** Colour for stdout and for stderr, each off unless its stream is a colour TTY. */
  out: ChalkInstance;
  err: ChalkInstance;
  /** Prints a line to stdout (data). */
  print(line: string): void;
  /** Prints a line to stderr (messages, warnings). */
  say(line: string): void;
}

export interface IOOptions {
  json: boolean;
  noInput: boolean;
  color: boolean;
  verbose: boolean;
  env: Record<string, string | undefined>;
}

export function createIO(options: IOOptions, streams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): IO {
  const { env } = options;
  const stdinTTY = Boolean((streams.stdin as { isTTY?: boolean }).isTTY);
  const stdoutTTY = Boolean((streams.stdout as { isTTY?: boolean }).isTTY);
  const stderrTTY = Boolean((streams.stderr as { isTTY?: boolean }).isTTY);
  const noInput = options.noInput || ['1', 'true', 'yes'].includes((env.TASKMASTER_NO_INPUT ?? '').toLowerCase());
  const colorAllowed = options.color && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  const out = new Chalk({ level: colorAllowed && stdoutTTY && !options.json ? 1 : 0 });
  const err = new Chalk({ level: colorAllowed && stderrTTY ? 1 : 0 });
  return {
    ...streams,
    interactive: stdinTTY && stdoutTTY && !noInput && !options.json,
    json: options.json,
    verbose: options.verbose,
    progress: stderrTTY && env.TERM !== 'dumb',
    out,
    err,
    print: (line) => void streams.stdout.write(`${line}\n`),
    say: (line) => void streams.stderr.write(`${line}\n`),
  };
}

/** `--password-stdin`: the first line of standard input, without its line ending. */
export async function readFirstLine(stdin: Readable): Promise<string> {
  let buffered = '';
  for await (const chunk of stdin) {
    buffered += chunk.toString();
    const newline = buffered.search(/\r?\n/);
    if (newline !== -1) {
      stdin.destroy();
      return buffered.slice(0, newline);
    }
  }
  return buffered;
}
