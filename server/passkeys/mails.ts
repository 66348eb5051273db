// Passkeys' notices: one added, one removed (a passkey is a way into the account: its owner hears of both).
import { formatExpiry, renderMail, type MailContent } from '../mail/templates.js';

const ifNotYou = (supportEmail: string | undefined) =>
  `If this wasn't you, remove it on your account page (or with \`taskmaster passkeys remove\`), then change your password with \`taskmaster password change\`${supportEmail ? `, and write to ${supportEmail}` : ''}.`;

export function passkeyAddedMail(mail: { username: string; name: string; at: number; address: string; supportEmail?: string | undefined }): MailContent {
  return renderMail(`A passkey was added to your TaskMaster account: ${mail.name}`, mail.username, [
    { say: `A passkey named "${mail.name}" was added to your TaskMaster account from ${mail.address} (${formatExpiry(mail.at)}). It signs in without the password or a code.` },
    { say: 'See your passkeys with `taskmaster passkeys` or on your account page.' },
    { note: ifNotYou(mail.supportEmail) },
  ]);
}

export function passkeyRemovedMail(mail: { username: string; name: string; at: number; address: string; supportEmail?: string | undefined }): MailContent {
  return renderMail(`A passkey was removed from your TaskMaster account: ${mail.name}`, mail.username, [
    { say: `The passkey named "${mail.name}" was removed from your TaskMaster account from ${mail.address} (${formatExpiry(mail.at)}). It no longer signs in.` },
    { note: `If this wasn't you, change your password now with \`taskmaster password change\`${mail.supportEmail ? `, and write to ${mail.supportEmail}` : ''}.` },
  ]);
}
