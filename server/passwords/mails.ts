// The password mails: the reset link, and the notice after a change or a reset.
import { formatExpiry, renderMail, type MailContent, type TokenMail } from '../mail/templates.js';

/** The password reset mail: link and token as the other token mails have them; 30 minutes, once, and harmless if unasked. */
export function passwordResetMail(mail: TokenMail): MailContent {
  return renderMail(
    'Reset your TaskMaster password',
    mail.username,
    [
      { say: 'Someone asked to reset the password of your TaskMaster account.' },
      { link: mail.link, label: 'To choose a new password', button: 'Choose a new password' },
      { say: 'Or paste this token into `taskmaster password reset`:' },
      { code: mail.token },
      { note: `The link and the token expire in 30 minutes (${formatExpiry(mail.expiresAt)}) and work once. If you didn't ask for this, ignore this email: nothing happens, and your password stays as it is.` },
    ],
    mail.link,
  );
}

/**
 * The notice after a password change (`how: 'change'`, from a signed-in session) or a reset from
 * the emailed link. `supportEmail` (SUPPORT_EMAIL) is named only when the operator set one.
 */
export function passwordChangedMail(mail: { username: string; how: 'change' | 'reset'; at: number; supportEmail?: string | undefined }): MailContent {
  const thenSupport = mail.supportEmail ? `, and write to ${mail.supportEmail}.` : '.';
  const what =
    mail.how === 'reset'
      ? `The password of your TaskMaster account was reset from the emailed link (${formatExpiry(mail.at)}). Every session was ended, so every device logs in again with the new password, and every access token was revoked: scripts that used one need a new one.`
      : `The password of your TaskMaster account was changed from a signed-in session (${formatExpiry(mail.at)}). Your other sessions were ended.`;
  const ifNotYou =
    mail.how === 'reset'
      ? `If this wasn't you, someone can read your email: secure your email account first, then choose a new password with \`taskmaster password forgot\`, which ends every session${thenSupport}`
      : `If this wasn't you, someone knows your password: choose a new one now with \`taskmaster password forgot\`, which ends every session${thenSupport}`;
  return renderMail('Your TaskMaster password was changed', mail.username, [
    { say: what },
    { say: ifNotYou },
    { note: 'If it was you, there is nothing more to do.' },
  ]);
}
