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

/** A mail body as blocks, rendered once as text and once as HTML, so the two always say the same. */
type Block = { say: string } | { link: string; label: string } | { code: string };

function render(subject: string, username: string, blocks: Block[], link?: string): MailContent {
  const text = [`Hello ${username},`, ''];
  const html = [`<p>Hello ${escapeHtml(username)},</p>`];
  for (const block of blocks) {
    if ('say' in block) {
      text.push(block.say, '');
      html.push(`<p>${escapeHtml(block.say)}</p>`);
    } else if ('link' in block) {
      text.push(`${block.label}, open this link:`, block.link, '');
      html.push(`<p><a href="${escapeHtml(block.link)}">${escapeHtml(block.label)}</a></p>`);
    } else {
      // the bare token on a line of its own, for pasting into `taskmaster verify`
      text.push(block.code, '');
      html.push(`<pre style="font-size:1.1em">${escapeHtml(block.code)}</pre>`);
    }
  }
  text.push('TaskMaster', '');
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;color:#1f2328">
${html.join('\n')}
<p style="color:#59636e;font-size:0.9em">TaskMaster</p>
</body></html>
`;
  return { subject, text: text.join('\n'), html: page, ...(link ? { link } : {}) };
}

interface TokenMail {
  username: string;
  link: string;
  token: string;
  expiresAt: number;
}

function tokenMail(subject: string, intro: string, action: string, mail: TokenMail): MailContent {
  return render(
    subject,
    mail.username,
    [
      { say: intro },
      { link: mail.link, label: action },
      { say: 'or paste this token into `taskmaster verify`:' },
      { code: mail.token },
      { say: `The link and the token expire in 24 hours (${formatExpiry(mail.expiresAt)}) and work once. If you didn't ask for this, ignore this email.` },
    ],
    mail.link,
  );
}

export function verificationMail(mail: TokenMail): MailContent {
  return tokenMail('Activate your TaskMaster account', 'Thanks for creating a TaskMaster account.', 'To activate it', mail);
}

export function emailChangeMail(mail: TokenMail & { newEmail: string }): MailContent {
  return tokenMail('Confirm your new TaskMaster email', `You asked to use ${mail.newEmail} for your TaskMaster account.`, 'To confirm it', mail);
}

export function emailChangeNoticeMail(mail: { username: string; newEmail: string }): MailContent {
  return render('Your TaskMaster email is being changed', mail.username, [
    { say: `Someone signed in to your TaskMaster account asked to change its email to ${mail.newEmail}.` },
    { say: 'The change takes effect once the new address is confirmed. Your other sessions were ended.' },
    { say: "If this wasn't you, log in and change your password, and contact support." },
  ]);
}
