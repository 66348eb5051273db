// Help text shared by every command, so each command's `--help` ends the same way.

/** The "Examples:" section commander prints after a command's help, one `$ command` a line. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}
