// The password mails as the tests read them: the reset mail's token, and waiting for the next mail of a kind.
import type { TestDaemon } from './daemon.js';
import { api } from './http.js';
import { MAIL_WAIT_MS, type ReceivedMail, type SmtpReceiver } from './smtp.js';

export const RESET_SUBJECT = 'Reset your TaskMaster password';
export const CHANGED_SUBJECT = 'Your TaskMaster password was changed';

/** The token of a reset mail: the link's and the line of its own must be the same 43 characters. */
export function resetTokenOf(mail: { text: string }): string {
  const fromLink = /\/v1\/password\/reset\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  const alone = mail.text.split(/\r?\n/).find((line) => /^[A-Za-z0-9]{43}$/.test(line.trim()))?.trim();
  if (!fromLink || fromLink !== alone) throw new Error(`mail has no matching reset link and token line:\n${mail.text}`);
  return alone;
}

/** How many mails with this subject went to `to` so far. */
export function mailCount(smtp: SmtpReceiver, to: string, subject: string): number {
  return smtp.mailsTo(to).filter((mail) => mail.subject === subject).length;
}

/** Waits for the mail with this subject to `to` after the first `seen` ones, and returns it. */
export async function nextMail(smtp: SmtpReceiver, to: string, subject: string, seen: number, timeoutMs = MAIL_WAIT_MS): Promise<ReceivedMail> {
  await smtp.waitFor(() => mailCount(smtp, to, subject) > seen, timeoutMs);
  return smtp.mailsTo(to).filter((mail) => mail.subject === subject)[seen]!;
}

/** Asks for a reset of `email` (from `from`, a loopback address) and returns the token from the mail. */
export async function requestReset(td: TestDaemon, email: string, from?: string): Promise<string> {
  const seen = mailCount(td.smtp, email, RESET_SUBJECT);
  const reply = await api(td.url, 'POST', '/v1/password/forgot', { email }, from ? { from } : {});
  if (reply.status !== 202) throw new Error(`forgot answered ${reply.status} ${reply.text}`);
  return resetTokenOf(await nextMail(td.smtp, email, RESET_SUBJECT, seen));
}
