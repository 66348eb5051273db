// The access tokens' mails: one when a token is created, one 7 days before it expires.
import { formatExpiry, renderMail, type MailContent } from '../mail/templates.js';

/** `supportEmail` (SUPPORT_EMAIL) is named only when the operator set one. */
export function tokenCreatedMail(mail: { username: string; name: string; scopes: string[]; expiresAt: number; address: string; allowedCidrs: string[]; supportEmail?: string | undefined }): MailContent {
  const thenSupport = mail.supportEmail ? `, and write to ${mail.supportEmail}.` : '.';
  return renderMail(`A new TaskMaster access token: ${mail.name}`, mail.username, [
    { say: `An access token named "${mail.name}" was created for your TaskMaster account from ${mail.address}.` },
    { say: `Its scopes: ${mail.scopes.join(', ')}. It works until ${formatExpiry(mail.expiresAt)}${mail.allowedCidrs.length > 0 ? `, only from ${mail.allowedCidrs.join(', ')}` : ''}.` },
    { say: 'See your tokens with `taskmaster token list`.' },
    { note: `If this wasn't you, revoke it now with \`taskmaster token revoke\`, then change your password with \`taskmaster password change\`${thenSupport}` },
  ]);
}

export function tokenExpiringMail(mail: { username: string; name: string; expiresAt: number; lastUsedAt: number | null }): MailContent {
  return renderMail(`Your TaskMaster access token ${mail.name} expires in 7 days`, mail.username, [
    { say: `The access token "${mail.name}" stops working on ${formatExpiry(mail.expiresAt)}.` },
    { say: mail.lastUsedAt === null ? 'It has never been used.' : `It was last used on ${formatExpiry(mail.lastUsedAt)}.` },
    { say: 'If a script or CI job still needs it, create a new one with `taskmaster token create` and put it in place before then; then revoke this one.' },
    { note: 'If nothing uses it any more, there is nothing to do: it expires by itself.' },
  ]);
}
