// Two-factor's notices: turned on, turned off, a recovery code used (and how many remain).
import { formatExpiry, renderMail, type MailContent } from '../mail/templates.js';

const ifNotYou = (supportEmail: string | undefined) =>
  `If this wasn't you, change your password now with \`taskmaster password forgot\`${supportEmail ? `, and write to ${supportEmail}` : ''}.`;

export function twoFactorEnabledMail(mail: { username: string; at: number; supportEmail?: string | undefined }): MailContent {
  return renderMail('Two-factor authentication is on for your TaskMaster account', mail.username, [
    { say: `Two-factor authentication was turned on for your TaskMaster account (${formatExpiry(mail.at)}). Logging in now asks for a code from your authenticator app, and so do password, email and token changes.` },
    { say: 'Your other sessions were ended. Keep your recovery codes somewhere safe: each one lets you in once if you lose your phone.' },
    { note: ifNotYou(mail.supportEmail) },
  ]);
}

export function twoFactorDisabledMail(mail: { username: string; at: number; address: string; supportEmail?: string | undefined }): MailContent {
  return renderMail('Two-factor authentication was turned off for your TaskMaster account', mail.username, [
    { say: `Two-factor authentication was turned off for your TaskMaster account from ${mail.address} (${formatExpiry(mail.at)}), with the password and a code. Your recovery codes no longer work.` },
    { say: 'Turn it on again with `taskmaster 2fa enable`.' },
    { note: ifNotYou(mail.supportEmail) },
  ]);
}

export function recoveryCodeUsedMail(mail: { username: string; at: number; address: string; remaining: number; supportEmail?: string | undefined }): MailContent {
  const left = mail.remaining === 0 ? 'none remain: make new ones now with `taskmaster 2fa recovery-codes`' : `${mail.remaining} remain${mail.remaining === 1 ? 's' : ''}`;
  return renderMail('A TaskMaster recovery code was used', mail.username, [
    { say: `A recovery code of your TaskMaster account was used from ${mail.address} (${formatExpiry(mail.at)}); ${left}.` },
    { say: 'Lost your phone? Once you are in, turn two-factor off and on again with the new phone (`taskmaster 2fa disable`, then `taskmaster 2fa enable`).' },
    { note: ifNotYou(mail.supportEmail) },
  ]);
}
