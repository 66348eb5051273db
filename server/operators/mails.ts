// The operator's mails: the account was disabled, and enabled again (`taskmasterd users`).
import { formatExpiry, renderMail, type MailContent } from '../mail/templates.js';

/** `supportEmail` (SUPPORT_EMAIL) is named only when the operator set one: no invented address. */
export function accountDisabledMail(mail: { username: string; at: number; supportEmail?: string | undefined }): MailContent {
  return renderMail('Your TaskMaster account was disabled', mail.username, [
    { say: `The operator of this TaskMaster service disabled your account ${mail.username} on ${formatExpiry(mail.at)}.` },
    { say: 'Every device that was logged in is logged out, its access tokens were revoked, and it cannot log in until the operator enables it again.' },
    { note: mail.supportEmail ? `If you think this is a mistake, write to ${mail.supportEmail}.` : 'If you think this is a mistake, reply to the people who run this service.' },
  ]);
}

export function accountEnabledMail(mail: { username: string; at: number; supportEmail?: string | undefined }): MailContent {
  const thenSupport = mail.supportEmail ? ` If you did not expect this, write to ${mail.supportEmail}.` : '';
  return renderMail('Your TaskMaster account is enabled again', mail.username, [
    { say: `The operator of this TaskMaster service enabled your account ${mail.username} again on ${formatExpiry(mail.at)}.` },
    { say: 'Log in again with `taskmaster login`: the sessions and access tokens ended when it was disabled do not come back, so create new tokens where scripts need them.' },
    { note: `Your password is the one it had.${thenSupport}` },
  ]);
}
