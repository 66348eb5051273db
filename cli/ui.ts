// Output: the dashboard, the profile, and how results and errors are shown (text or --json).
import type { Credential, User } from '../server/contract/api.js';
import type { IO } from './io.js';

function memberSince(user: User): string {
  return new Date(user.createdAt).toISOString().slice(0, 10);
}

function rows(io: IO, entries: [string, string][]): string[] {
  const width = Math.max(...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `  ${io.out.dim(label.padEnd(width))}  ${value}`);
}

function emailLine(io: IO, user: User): string {
  return `${user.email}  ${user.emailVerified ? io.out.green('(verified)') : io.out.yellow('(not verified)')}`;
}

/** The account at a glance; `hints: false` leaves out "What next" (the home menu offers it instead). */
export function dashboard(io: IO, user: User, server: string, options: { hints?: boolean } = {}): string[] {
  const entries: [string, string][] = [
    ['Username', io.out.bold(user.username)],
    ['Email', emailLine(io, user)],
  ];
  if (user.pendingEmail) entries.push(['Pending email', `${user.pendingEmail}  ${io.out.yellow('(confirm it from the email we sent)')}`]);
  entries.push(['Two-factor', user.twoFactorEnabled ? io.out.green('on') : `${io.out.yellow('off')}  (turn it on: taskmaster 2fa enable)`]);
  entries.push(['Member since', memberSince(user)], ['Server', server]);
  const welcome = [`Welcome, ${io.out.bold(user.username)}!`, '', ...rows(io, entries), ''];
  if (options.hints === false) return welcome;
  return [
    ...welcome,
    'What next:',
    ...commandHints(io, [
      ['taskmaster profile', 'see your profile'],
      ['taskmaster profile update', 'change your username or email'],
      ['taskmaster password change', 'change your password'],
      ['taskmaster 2fa enable', 'ask a code from your phone at login (two-factor)'],
      ['taskmaster sessions', 'see where you are logged in; end a session'],
      ['taskmaster activity', 'recent logins and changes to your account'],
      ['taskmaster status', 'this login: server, token, expiry, still valid?'],
      ['taskmaster whoami', 'print your username'],
      ['taskmaster logout', 'log out here (--all: everywhere)'],
      ['taskmaster account delete', 'delete your account'],
    ]),
  ];
}

/** Commands to run next, one a line, descriptions aligned. */
export function commandHints(io: IO, hints: [command: string, does: string][]): string[] {
  const width = Math.max(...hints.map(([command]) => command.length));
  return hints.map(([command, does]) => `  ${io.out.cyan(command.padEnd(width))}   ${does}`);
}

/** What `taskmaster status` found; `token` is already masked. */
export interface LoginStatus {
  server: string;
  state: 'valid' | 'ended' | 'not_logged_in' | 'unreachable';
  /** null when the server could not be asked. */
  valid: boolean | null;
  username: string | null;
  user: User | null;
  tokenSource: string | null;
  token: string | null;
  /** What the token is, as the server says: a session, or an access token with its name and scopes. */
  credential: Credential | null;
  expiresAt: string | null;
}

/** Enough of a token to tell two apart (`tm_abcd…`, `tmp_abcd…`), never enough to use it. */
export function maskToken(token: string): string {
  const shown = Math.min(token.startsWith('tmp_') ? 8 : token.startsWith('tm_') ? 7 : 4, Math.floor(token.length / 4));
  return `${token.slice(0, shown)}…`;
}

export function loginStatus(io: IO, status: LoginStatus, now = new Date()): string[] {
  const { out } = io;
  const entries: [string, string][] = [['Server', status.server]];
  if (status.user) entries.push(['Account', `${out.bold(status.user.username)}  (${status.user.email})`], ['Two-factor', status.user.twoFactorEnabled ? out.green('on') : 'off']);
  else if (status.username) entries.push(['Account', `${status.username}  ${out.dim('(as saved at login)')}`]);
  if (status.token) entries.push(['Token', status.credential?.type === 'access_token' ? `${status.token}  (access token "${status.credential.name}": ${status.credential.scopes.join(', ')})` : status.token]);
  if (status.tokenSource) entries.push(['Token from', status.tokenSource]);
  if (status.expiresAt) entries.push(['Expires', when(status.expiresAt, now)]);
  const session = {
    valid: out.green(status.credential?.type === 'access_token' ? '✓ valid access token' : '✓ valid'),
    ended: `${out.red('✗ ended')} (logged out, revoked or expired): run \`taskmaster login\``,
    not_logged_in: `${out.red('✗ not logged in')}: run \`taskmaster login\`, or set TASKMASTER_TOKEN`,
    unreachable: `${out.yellow('? unknown')}: the server cannot be reached`,
  }[status.state];
  entries.push(['Session', session]);
  return rows(io, entries);
}

/** `2026-12-24 10:00 UTC (in 30 days)` */
function when(iso: string, now: Date): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const utc = at.toISOString();
  return `${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC (${fromNow(at, now)})`;
}

function fromNow(at: Date, now: Date): string {
  const minutes = Math.round((at.getTime() - now.getTime()) / 60_000);
  const [amount, unit]: [number, string] =
    Math.abs(minutes) >= 2 * 24 * 60 ? [Math.round(minutes / (24 * 60)), 'day'] : Math.abs(minutes) >= 120 ? [Math.round(minutes / 60), 'hour'] : [minutes, 'minute'];
  const phrase = `${Math.abs(amount)} ${unit}${Math.abs(amount) === 1 ? '' : 's'}`;
  return amount >= 0 ? `in ${phrase}` : `${phrase} ago`;
}

export function profile(io: IO, user: User): string[] {
  return rows(io, [
    ['Username', user.username],
    ['Email', user.email],
    ['Verified', user.emailVerified ? io.out.green('yes') : io.out.yellow('no — run `taskmaster verify`')],
    ['Pending email', user.pendingEmail ? `${user.pendingEmail} ${io.out.yellow('(waiting for confirmation)')}` : '—'],
    ['Member since', memberSince(user)],
  ]);
}

/** One JSON document on stdout with --json; otherwise the text lines (data on stdout). */
export function show(io: IO, json: unknown, lines: () => string[]): void {
  if (io.json) io.print(JSON.stringify(json, null, 2));
  else for (const line of lines()) io.print(line);
}

/** A message on stderr, unless --json keeps stderr for errors only. */
export function note(io: IO, message: string): void {
  if (!io.json) io.say(message);
}

export function success(io: IO, message: string): void {
  note(io, `${io.err.green('✓')} ${message}`);
}

/**
 * Columns padded to their widest cell, under a dim header; the last column is not padded.
 * Cells may carry colour: widths are measured without the escape codes.
 */
export function table(io: IO, headers: string[], body: string[][]): string[] {
  const visible = (cell: string) => cell.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = headers.map((header, column) => Math.max(header.length, ...body.map((row) => visible(row[column] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell + ' '.repeat(widths[column]! - visible(cell))))
      .join('  ')
      .trimEnd();
  return [io.out.dim(line(headers)), ...body.map(line)];
}

/** `2026-12-24 10:00 UTC`: a moment as a table shows it. */
export function utcMinute(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const utc = at.toISOString();
  return `${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC`;
}

const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner with a message on stderr, at a terminal only (a pipe or a log gets nothing); stop() clears its line. */
export function spinner(io: IO, message: string): { stop(): void } {
  if (!io.progress) return { stop() {} };
  let frame = 0;
  const draw = () => void io.stderr.write(`\r${io.err.cyan(SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]!)} ${message}`);
  draw();
  const timer = setInterval(draw, 100);
  return {
    stop() {
      clearInterval(timer);
      io.stderr.write('\r\u001b[2K');
    },
  };
}
