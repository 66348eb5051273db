// Output: the dashboard, the profile, and how results and errors are shown (text or --json).
import type { User } from '../server/shared/api.js';
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

export function dashboard(io: IO, user: User, server: string): string[] {
  const entries: [string, string][] = [
    ['Username', io.out.bold(user.username)],
    ['Email', emailLine(io, user)],
  ];
  if (user.pendingEmail) entries.push(['Pending email', `${user.pendingEmail}  ${io.out.yellow('(confirm it from the email we sent)')}`]);
  entries.push(['Member since', memberSince(user)], ['Server', server]);
  return [
    `Welcome, ${io.out.bold(user.username)}!`,
    '',
    ...rows(io, entries),
    '',
    'What next:',
    `  ${io.out.cyan('taskmaster profile')}          see your profile`,
    `  ${io.out.cyan('taskmaster profile update')}   change your username or email`,
    `  ${io.out.cyan('taskmaster whoami')}           print your username`,
    `  ${io.out.cyan('taskmaster logout')}           log out`,
  ];
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
