// The accounts' mails: verification, email change and its notice, the goodbye after deletion.
import { formatExpiry, renderMail, tokenMail, type MailContent, type TokenMail } from '../mail/templates.js';

export function verificationMail(mail: TokenMail): MailContent {
  return tokenMail('Activate your TaskMaster account', 'Thanks for creating a TaskMaster account.', { label: 'To activate it', button: 'Activate your account' }, mail);
}

export function emailChangeMail(mail: TokenMail & { newEmail: string }): MailContent {
  return tokenMail(
    'Confirm your new TaskMaster email',
    `You asked to use ${mail.newEmail} for your TaskMaster account.`,
    { label: 'To confirm it', button: 'Confirm your new email' },
    mail,
  );
}

/** `supportEmail` (SUPPORT_EMAIL) is named only when the operator set one: no invented address. */
export function emailChangeNoticeMail(mail: { username: string; newEmail: string; supportEmail?: string | undefined }): MailContent {
  const thenSupport = mail.supportEmail ? `, then write to ${mail.supportEmail}.` : '.';
  return renderMail('Your TaskMaster email is being changed', mail.username, [
    { say: `Someone signed in to your TaskMaster account asked to change its email to ${mail.newEmail}.` },
    { say: 'The change takes effect once the new address is confirmed. Your other sessions were ended.' },
    { say: `If this wasn't you, someone knows your password: change it now with \`taskmaster password change\`, which ends every other session${thenSupport}` },
  ]);
}

/**
 * After `DELETE /v1/me`: the goodbye, the only mail row that outlives the account. It says what
 * went, that the names are free again, and what to do if it was not the owner.
 */
export function accountDeletedMail(mail: { username: string; deletedAt: number; by?: 'owner' | 'operator'; supportEmail?: string | undefined }): MailContent {
  const thenSupport = mail.supportEmail ? ` Write to ${mail.supportEmail} if you need help.` : '';
  const how = mail.by === 'operator' ? 'by the operator of this TaskMaster service' : 'confirmed with its password';
  return renderMail('Your TaskMaster account was deleted', mail.username, [
    { say: `Your TaskMaster account ${mail.username} was deleted on ${formatExpiry(mail.deletedAt)}, ${how}.` },
    { say: 'Its sessions, tokens and activity went with it: every device that was logged in is logged out.' },
    { say: 'The username and this email address are free again. To come back, create a new account with `taskmaster register`.' },
    {
      note: `If you didn't do this, someone knew your password: the account cannot be brought back, so change that password wherever else you use it.${thenSupport}`,
    },
  ]);
}
