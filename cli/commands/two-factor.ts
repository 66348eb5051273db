// `taskmaster 2fa enable|confirm|status|disable|recovery-codes`: two-factor authentication from the
// terminal, without a browser: the QR code is drawn here, the secret printed under it.
import { chmod, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readPassword, withCode, type Context } from '../context.js';
import { ApiError, CliError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success } from '../ui.js';

export interface EnableOptions {
  passwordStdin?: boolean;
  recoveryCodesFile?: string;
}

export interface ReauthOptions {
  passwordStdin?: boolean;
  otp?: string;
  recoveryCodesFile?: string;
}

/** `JBSW Y3DP EHPK 3PXP …`: a secret typed into an app by hand is read in groups of four. */
function grouped(secret: string): string {
  return secret.match(/.{1,4}/g)!.join(' ');
}

/** The codes on stdout (the data), and in a 0600 file when asked. */
async function showRecoveryCodes(ctx: Context, recoveryCodes: string[], file: string | undefined): Promise<void> {
  if (file) {
    await writeFile(file, `${recoveryCodes.join('\n')}\n`, { mode: 0o600 });
    await chmod(file, 0o600); // an existing file keeps its mode on write
  }
  show(ctx.io, { recoveryCodes, ...(file ? { recoveryCodesFile: file } : {}) }, () => recoveryCodes);
  note(ctx.io, `These ${recoveryCodes.length} recovery codes are shown this once${file ? ` (and written to ${file}, readable by you only)` : ''}: keep them where your phone is not. Each lets you in once, where a code is asked.`);
}

/** Turns two-factor on: the password, then the QR code and the secret, then a code from the app. */
export async function enable(ctx: Context, options: EnableOptions): Promise<void> {
  const api = await ctx.api({ session: true });
  const password = await readPassword(ctx, options.passwordStdin, 'Your password (to turn on two-factor):');
  let enrolment;
  try {
    enrolment = await api.enrolTotp(password);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'wrong_password') throw new CliError(error.exitCode, error.code, 'That is not the password of this account: two-factor stays off.');
    throw error;
  }
  // Without a terminal nothing can be scanned or asked: the secret as data, then `2fa confirm CODE`.
  if (!ctx.io.interactive) {
    show(ctx.io, enrolment, () => [JSON.stringify(enrolment)]);
    note(ctx.io, 'Add the secret to your authenticator app, then finish with: taskmaster 2fa confirm CODE');
    return;
  }
  const { default: qrcode } = await import('qrcode');
  const qr = await qrcode.toString(enrolment.otpauthUri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
  ctx.io.print('Scan this with your authenticator app (Google Authenticator, 1Password, Aegis, …):');
  ctx.io.print('');
  ctx.io.print(qr.trimEnd());
  ctx.io.print('');
  ctx.io.print(`Or type the secret: ${ctx.io.out.bold(grouped(enrolment.secret))}`);
  ctx.io.print(`URI: ${enrolment.otpauthUri}`);
  ctx.io.print('');
  const prompt = await ctx.prompt();
  for (;;) {
    const code = await prompt.input('Code from your authenticator app:', { check: (value) => (/^\d{6}$/.test(value.replace(/\s/g, '')) ? undefined : 'Type the 6 digits the app shows.') });
    try {
      const { recoveryCodes } = await api.confirmTotp(code);
      success(ctx.io, 'Two-factor authentication is on. Logging in now asks for a code; your other sessions were ended.');
      await showRecoveryCodes(ctx, recoveryCodes, options.recoveryCodesFile);
      return;
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'invalid_code')) throw error;
      ctx.io.say(ctx.io.err.yellow('That code is not right: check the app\'s clock, and type the code it shows now.'));
    }
  }
}

/** `2fa confirm CODE`: finishes an enrolment started with --no-input. */
export async function confirm(ctx: Context, code: string, options: { recoveryCodesFile?: string }): Promise<void> {
  const api = await ctx.api({ session: true });
  let recoveryCodes: string[];
  try {
    ({ recoveryCodes } = await api.confirmTotp(code));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'invalid_code') throw new CliError(error.exitCode, error.code, 'That code is not right: check the app\'s clock, and give the code it shows now.');
    if (error instanceof ApiError && error.code === 'no_enrolment') throw new CliError(error.exitCode, error.code, 'No enrolment is waiting for a code: start one with `taskmaster 2fa enable`.');
    throw error;
  }
  success(ctx.io, 'Two-factor authentication is on. Logging in now asks for a code; your other sessions were ended.');
  await showRecoveryCodes(ctx, recoveryCodes, options.recoveryCodesFile);
}

export async function status(ctx: Context): Promise<void> {
  const { user } = await (await ctx.api({ session: true })).me();
  show(ctx.io, { twoFactorEnabled: user.twoFactorEnabled }, () => [user.twoFactorEnabled ? `Two-factor authentication: ${ctx.io.out.green('on')}` : `Two-factor authentication: ${ctx.io.out.yellow('off')}`]);
  if (!user.twoFactorEnabled) note(ctx.io, 'Turn it on with `taskmaster 2fa enable`: logging in then asks for a code from your phone.');
}

/** Password and code again: a session alone, or a password alone, cannot turn it off. */
export async function disable(ctx: Context, options: ReauthOptions): Promise<void> {
  const api = await ctx.api({ session: true });
  const currentPassword = await readPassword(ctx, options.passwordStdin, 'Your password (to turn off two-factor):');
  await refusedInWords(() => withCode(ctx, options.otp, (code) => api.disableTwoFactor({ currentPassword, ...(code ? { code } : {}) })), 'two-factor stays on');
  show(ctx.io, { twoFactorEnabled: false }, () => []);
  success(ctx.io, 'Two-factor authentication is off; your recovery codes no longer work.');
}

export async function recoveryCodes(ctx: Context, options: ReauthOptions): Promise<void> {
  const api = await ctx.api({ session: true });
  const currentPassword = await readPassword(ctx, options.passwordStdin, 'Your password (for new recovery codes):');
  const { recoveryCodes: codes } = await refusedInWords(() => withCode(ctx, options.otp, (code) => api.newRecoveryCodes({ currentPassword, ...(code ? { code } : {}) })), 'the old recovery codes still work');
  success(ctx.io, 'New recovery codes: the old ones no longer work.');
  await showRecoveryCodes(ctx, codes, options.recoveryCodesFile);
}

/** A wrong password or code, said in the terminal's words, with what did not happen. */
async function refusedInWords<T>(attempt: () => Promise<T>, nothingChanged: string): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (error instanceof ApiError && error.code === 'wrong_password') throw new CliError(error.exitCode, error.code, `That is not the password of this account: ${nothingChanged}.`);
    if (error instanceof ApiError && error.code === 'invalid_code') throw new CliError(error.exitCode, error.code, `That code is not right, or was used already: ${nothingChanged}.`);
    if (error instanceof ApiError && error.code === 'no_enrolment') throw new CliError(error.exitCode, error.code, 'Two-factor authentication is off: turn it on with `taskmaster 2fa enable`.');
    throw error;
  }
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const twoFactor = program
    .command('2fa')
    .description('two-factor authentication: a code from your phone at login and before sensitive changes (`2fa enable`, `status`, `disable`, `recovery-codes`)')
    .addHelpText('after', examples('taskmaster 2fa enable', 'taskmaster 2fa status', 'taskmaster 2fa disable', 'taskmaster 2fa recovery-codes --recovery-codes-file ~/taskmaster-recovery.txt'))
    .action(async (_options, command: Command) => status(makeContext(command)));

  twoFactor
    .command('enable')
    .description('turn two-factor on: your password, then a QR code to scan (the secret and URI printed under it), then a code; shows 10 recovery codes once')
    .option('--password-stdin', 'read your password from the first line of stdin')
    .option('--recovery-codes-file <path>', 'also write the recovery codes to this file (mode 0600)')
    .addHelpText(
      'after',
      `
Without a terminal (or with --no-input) it prints {"secret","otpauthUri"} and stops: add the secret to
your app, then run \`taskmaster 2fa confirm CODE\`.
${examples('taskmaster 2fa enable', 'taskmaster 2fa enable --recovery-codes-file ~/taskmaster-recovery.txt', 'printf %s "$PASSWORD" | taskmaster 2fa enable --no-input --password-stdin --json')}`,
    )
    .action(async (options: EnableOptions, command: Command) => enable(makeContext(command), options));

  twoFactor
    .command('confirm')
    .description('finish `2fa enable --no-input` with a code from your app: two-factor turns on; shows the recovery codes once')
    .argument('<code>', 'the 6-digit code your authenticator app shows')
    .option('--recovery-codes-file <path>', 'also write the recovery codes to this file (mode 0600)')
    .addHelpText('after', examples('taskmaster 2fa confirm 123456'))
    .action(async (code: string, options: { recoveryCodesFile?: string }, command: Command) => confirm(makeContext(command), code, options));

  twoFactor
    .command('status')
    .description('whether two-factor authentication is on')
    .addHelpText('after', examples('taskmaster 2fa status', 'taskmaster 2fa status --json'))
    .action(async (_options, command: Command) => status(makeContext(command)));

  twoFactor
    .command('disable')
    .description('turn two-factor off: your password and a code (or a recovery code)')
    .option('--password-stdin', 'read your password from the first line of stdin')
    .option('--otp <code>', 'the code from your app, or a recovery code (asked at a terminal otherwise)')
    .addHelpText('after', examples('taskmaster 2fa disable', 'printf %s "$PASSWORD" | taskmaster 2fa disable --password-stdin --otp 123456'))
    .action(async (options: ReauthOptions, command: Command) => disable(makeContext(command), options));

  twoFactor
    .command('recovery-codes')
    .description('new recovery codes (the old ones stop working): your password and a code')
    .option('--password-stdin', 'read your password from the first line of stdin')
    .option('--otp <code>', 'the code from your app, or a recovery code (asked at a terminal otherwise)')
    .option('--recovery-codes-file <path>', 'also write the codes to this file (mode 0600)')
    .addHelpText('after', examples('taskmaster 2fa recovery-codes', 'taskmaster 2fa recovery-codes --recovery-codes-file ~/taskmaster-recovery.txt'))
    .action(async (options: ReauthOptions, command: Command) => recoveryCodes(makeContext(command), options));
}

