// Two-factor from a terminal and from scripts, through the real bin/taskmaster against the real
// daemon: enrolment with the QR code drawn in the terminal (a screenshot of it must scan), login
// asking the code, recovery codes, step-up with --otp.
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import jsQRModule from 'jsqr';
import { Secret, TOTP } from 'otpauth';
import { PNG } from 'pngjs';
import { artifactPath, launchBrowser } from './helpers/browser.js';
import { cliUser, type CliUser } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { openTerminal } from './helpers/pty.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

/** The code an authenticator app shows now (or `stepsAhead` steps later). */
function codeFor(secret: string, stepsAhead = 0): string {
  return new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + stepsAhead * 30_000 });
}

async function loggedIn(prefix: string) {
  const user = await cliUser(td.url);
  const account = await activeAccount(td, identity(prefix));
  const login = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  return { user, account };
}

/** Two-factor turned on from a script: enable --no-input, then confirm with a code. */
async function withTwoFactor(user: CliUser, password: string, codesFile?: string) {
  const enrolled = await user.run(['2fa', 'enable', '--no-input', '--password-stdin', '--json'], { input: `${password}\n` });
  if (enrolled.code !== 0) throw new Error(`enable failed: ${enrolled.stderr}`);
  const { secret, otpauthUri } = JSON.parse(enrolled.stdout) as { secret: string; otpauthUri: string };
  const confirmed = await user.run(['2fa', 'confirm', codeFor(secret), ...(codesFile ? ['--recovery-codes-file', codesFile] : []), '--json']);
  if (confirmed.code !== 0) throw new Error(`confirm failed: ${confirmed.stderr}`);
  return { secret, otpauthUri, recoveryCodes: JSON.parse(confirmed.stdout).recoveryCodes as string[] };
}

test('2fa enable --no-input prints the secret and URI; 2fa confirm CODE turns it on and shows 10 recovery codes once, into a 0600 file', async (t) => {
  const { user, account } = await loggedIn('tfcli');
  const codesFile = join(tmpdir(), `taskmaster-codes-${process.pid}-${Date.now()}.txt`);
  const { secret, otpauthUri, recoveryCodes } = await withTwoFactor(user, account.password, codesFile);
  t.regex(secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
  t.is(otpauthUri, `otpauth://totp/TaskMaster:${account.username}?secret=${secret}&issuer=TaskMaster`);
  t.is(recoveryCodes.length, 10);
  t.is(new Set(recoveryCodes).size, 10);
  t.is((await readFile(codesFile, 'utf8')).trim().split('\n').length, 10);
  t.is((await stat(codesFile)).mode & 0o777, 0o600);
  const status = await user.run(['2fa', 'status']);
  t.regex(status.stdout, /Two-factor authentication: on/);
  const again = await user.run(['2fa', 'enable', '--no-input', '--password-stdin'], { input: `${account.password}\n` });
  t.is(again.code, 1);
  t.regex(again.stderr, /on already/);
});

test('a script logs in with --otp; without it the error names --otp; a recovery code works once', async (t) => {
  const { user, account } = await loggedIn('tfotp');
  const { secret, recoveryCodes } = await withTwoFactor(user, account.password);
  const fresh = await cliUser(td.url);

  const noCode = await fresh.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
  t.is(noCode.code, 2);
  t.regex(noCode.stderr, /two-factor authentication on: pass --otp CODE/);
  const wrongPassword = await fresh.run(['login', '--email', account.email, '--password-stdin'], { input: 'not-the-password\n' });
  t.is(wrongPassword.code, 1);
  t.regex(wrongPassword.stderr, /Email or password is not right/, 'a wrong password says nothing of two-factor');

  // The code of the step after the one confirm used: a code is good once.
  const login = await fresh.run(['login', '--email', account.email, '--password-stdin', '--otp', codeFor(secret, 1)], { input: `${account.password}\n` });
  t.is(login.code, 0, login.stderr);
  t.regex(login.stdout, /Two-factor\s+on/);

  const recovery = await (await cliUser(td.url)).run(['login', '--email', account.email, '--password-stdin', '--otp', recoveryCodes[0]!], { input: `${account.password}\n` });
  t.is(recovery.code, 0, recovery.stderr);
  const reused = await (await cliUser(td.url)).run(['login', '--email', account.email, '--password-stdin', '--otp', recoveryCodes[0]!], { input: `${account.password}\n` });
  t.is(reused.code, 1);
  t.regex(reused.stderr, /not right, or was used already/);
  const mail = await td.smtp.waitFor((m) => m.to === account.email && /recovery code was used/.test(m.subject));
  t.regex(mail.text, /9 remain/);
});

test('step-up: password change and token create need the code; without a terminal the error names --otp', async (t) => {
  const { user, account } = await loggedIn('tfstep');
  const { secret } = await withTwoFactor(user, account.password);
  const token = await user.run(['token', 'create', '--name', 'ci', '--scope', 'account:read', '--expires', '30d', '--password-stdin'], { input: `${account.password}\n` });
  t.is(token.code, 2);
  t.regex(token.stderr, /pass --otp CODE/);
  const withCode = await user.run(['token', 'create', '--name', 'ci', '--scope', 'account:read', '--expires', '30d', '--password-stdin', '--otp', codeFor(secret, 1)], { input: `${account.password}\n` });
  t.is(withCode.code, 0, withCode.stderr);
  t.regex(withCode.stdout, /^tmp_/);
  const replay = await user.run(['2fa', 'disable', '--password-stdin', '--otp', codeFor(secret, 1)], { input: `${account.password}\n` });
  t.is(replay.code, 1, 'the same code again is refused');
  t.regex(replay.stderr, /two-factor stays on/);
});

test('at a terminal: 2fa enable draws a QR code that scans to the otpauth URI, then login asks the code', async (t) => {
  const { user, account } = await loggedIn('tfpty');
  const env = { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url, NO_COLOR: '1' };
  const term = openTerminal(['2fa', 'enable'], env);
  await term.waitFor(/Your password/);
  term.type(`${account.password}\r`);
  await term.waitFor(/Code from your authenticator app:/);
  const screen = term.screen();
  const uri = /URI: (otpauth:\/\/\S+)/.exec(screen)?.[1];
  t.truthy(uri);
  const secret = new URL(uri!).searchParams.get('secret')!;
  t.regex(screen, new RegExp(`Or type the secret: ${secret.match(/.{4}/g)!.join(' ')}`), 'the secret in groups of four');

  // A screenshot of the terminal as it draws the code: white on black, each block character filling
  // its cell (a terminal draws ▀ ▄ █ as the upper half, the lower half, the whole cell), decoded.
  // The code is drawn black on a white background (spaces are light, blocks dark), so read as white
  // on black (inverted, which a phone reads too). Its last line is a light half-row drawn white on the
  // terminal's own background: part of the light margin, which inverted is the dark background here.
  const qrLines = term
    .raw()
    .split(/\r?\n/)
    .filter((line) => !line.includes('\u001b[37m'))
    .map((line) => line.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, ''))
    .filter((line) => /[█▀▄]/.test(line));
  t.true(qrLines.length > 10, 'a QR code is drawn');
  // Each half of a cell a crisp block of its own (no gradient edge to blur), drawn at a few sizes as
  // a camera would see it at a few distances: the code must scan at one of them.
  const half = (lit: boolean) => `<i class="${lit ? 'w' : 'k'}"></i>`;
  const cell = (char: string) => `<span>${half(char === '█' || char === '▀')}${half(char === '█' || char === '▄')}</span>`;
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  const jsQR = jsQRModule as unknown as (data: Uint8ClampedArray, width: number, height: number, options?: { inversionAttempts?: string }) => { data: string } | null;
  let decoded: { data: string } | null = null;
  for (const size of [8, 6, 10]) {
    await page.setContent(
      `<style>body{margin:0;background:#000}div{display:flex;margin-left:${3 * size}px}span{display:flex;flex-direction:column;width:${size}px}i{display:block;height:${size}px}.w{background:#fff}.k{background:#000}</style><body><br>${qrLines
        .map((line) => `<div>${[...line.trimEnd()].map(cell).join('')}</div>`)
        .join('')}</body>`,
    );
    const shot = await page.screenshot({ path: await artifactPath(`2fa-enable-terminal-qr${size === 8 ? '' : `-${size}`}.png`) });
    const png = PNG.sync.read(shot);
    decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height, { inversionAttempts: 'attemptBoth' });
    if (decoded) break;
  }
  t.is(decoded?.data, uri, 'the QR code scans to the otpauth URI');

  term.type(`${codeFor(secret)}\r`);
  await term.waitFor(/Two-factor authentication is on/);
  await term.waitFor(/recovery codes are shown this once/);
  t.is(await term.exited, 0);

  const login = openTerminal(['login', '--email', account.email], { ...env, TASKMASTER_CONFIG_DIR: (await cliUser(td.url)).configDir });
  await login.waitFor(/Password/);
  login.type(`${account.password}\r`);
  await login.waitFor(/Code from your authenticator app \(or a recovery code\)/);
  login.type(`${codeFor(secret, 1)}\r`);
  await login.waitFor(/Logged in to/);
  t.is(await login.exited, 0);
});
