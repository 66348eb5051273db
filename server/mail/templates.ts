// Email content: multipart text and HTML, each carrying the link and the bare token on its own line.

export interface MailContent {
  subject: string;
  text: string;
  html: string;
  /** The action link, logged by the embedded outbox so a developer can click it. */
  link?: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function formatExpiry(expiresAt: number): string {
  return new Date(expiresAt).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
}

function htmlShell(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;color:#1f2328">
${body}
<p style="color:#59636e;font-size:0.9em">TaskMaster</p>
</body></html>
`;
}

interface TokenMail {
  username: string;
  link: string;
  token: string;
  expiresAt: number;
}

function tokenMail(subject: string, intro: string, action: string, mail: TokenMail): MailContent {
  const expiry = formatExpiry(mail.expiresAt);
  const text = [
    `Hello ${mail.username},`,
    '',
    intro,
    '',
    `${action}, open this link:`,
    mail.link,
    '',
    'or paste this token into `taskmaster verify`:',
    '',
    mail.token,
    '',
    `The link and the token expire in 24 hours (${expiry}) and work once.`,
    "If you didn't ask for this, ignore this email.",
    '',
    'TaskMaster',
    '',
  ].join('\n');
  const html = htmlShell(
    subject,
    `<p>Hello ${escapeHtml(mail.username)},</p>
<p>${escapeHtml(intro)}</p>
<p><a href="${escapeHtml(mail.link)}">${escapeHtml(action)}</a></p>
<p>Or paste this token into <code>taskmaster verify</code>:</p>
<pre style="font-size:1.1em">${escapeHtml(mail.token)}</pre>
<p>The link and the token expire in 24 hours (${escapeHtml(expiry)}) and work once.
If you didn't ask for this, ignore this email.</p>`,
  );
  return { subject, text, html, link: mail.link };
}

export function verificationMail(mail: TokenMail): MailContent {
  return tokenMail('Activate your TaskMaster account', 'Thanks for creating a TaskMaster account.', 'To activate it', mail);
}

export function emailChangeMail(mail: TokenMail & { newEmail: string }): MailContent {
  return tokenMail(
    'Confirm your new TaskMaster email',
    `You asked to use ${mail.newEmail} for your TaskMaster account.`,
    'To confirm it',
    mail,
  );
}

export function emailChangeNoticeMail(mail: { username: string; newEmail: string }): MailContent {
  const subject = 'Your TaskMaster email is being changed';
  const text = [
    `Hello ${mail.username},`,
    '',
    `Someone signed in to your TaskMaster account asked to change its email to ${mail.newEmail}.`,
    'The change takes effect once the new address is confirmed. Your other sessions were ended.',
    '',
    "If this wasn't you, log in and change your password, and contact support.",
    '',
    'TaskMaster',
    '',
  ].join('\n');
  const html = htmlShell(
    subject,
    `<p>Hello ${escapeHtml(mail.username)},</p>
<p>Someone signed in to your TaskMaster account asked to change its email to <strong>${escapeHtml(mail.newEmail)}</strong>.
The change takes effect once the new address is confirmed. Your other sessions were ended.</p>
<p>If this wasn't you, log in and change your password, and contact support.</p>`,
  );
  return { subject, text, html };
}
