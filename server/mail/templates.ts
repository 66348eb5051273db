// Email content: multipart text and HTML from one list of blocks, so the two always say the same.
// The HTML is built with `html`, which escapes every value unless it is already Html, and styled
// inline only (mail clients drop <style> and block remote images, so there are none).

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

/** Markup that is safe as it is: made by `html`, so every value in it was escaped. */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

/** A template that escapes what it is given: Html and lists of Html go in as they are, the rest as text. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let markup = strings[0] ?? '';
  values.forEach((value, index) => {
    markup += asMarkup(value) + (strings[index + 1] ?? '');
  });
  return new Html(markup);
}

function asMarkup(value: unknown): string {
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(asMarkup).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * A `code` span: its backticks stand between a space (or the start) and a space, `,:;)`, a
 * sentence's last `.` (or the end). An email address may hold backticks but never matches.
 */
const CODE_SPAN = /(^|[\s(])`([^`\s][^`]*)`(?=$|[\s,:;)]|\.(?:\s|$))/g;

/** Text with `command` spans, as HTML: the spans become <code>. */
export function withCode(text: string, codeStyle?: string): Html {
  const parts: (Html | string)[] = [];
  let last = 0;
  for (const match of text.matchAll(CODE_SPAN)) {
    const [whole, before = '', code = ''] = match;
    parts.push(text.slice(last, match.index) + before, html`<code${codeStyle ? html` style="${codeStyle}"` : ''}>${code}</code>`);
    last = match.index + whole.length;
  }
  parts.push(text.slice(last));
  return html`${parts}`;
}

function formatExpiry(expiresAt: number): string {
  return new Date(expiresAt).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
}

/**
 * A mail body as blocks: `say` a paragraph; `note` a quieter one; `link` a button labelled
 * `button` (in text: "<label>, open this link:" and the link on its own line); `code` the bare
 * token on a line of its own, for pasting into `taskmaster verify`.
 */
type Block = { say: string } | { note: string } | { link: string; label: string; button: string } | { code: string };

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace";
const INK = '#1f2328';
const MUTED = '#59636e';
const ACCENT = '#1f6feb';
const CODE = `${MONO};font-size:0.95em;background:#eff2f5;padding:1px 5px;border-radius:4px;white-space:nowrap`;

function blockHtml(block: Block): Html {
  if ('say' in block) return html`<p style="margin:0 0 16px">${withCode(block.say, CODE)}</p>`;
  if ('note' in block) return html`<p style="margin:24px 0 0;font-size:14px;color:${MUTED}">${withCode(block.note, CODE)}</p>`;
  if ('link' in block) {
    // A table cell with a fill is the button mail clients (Outlook included) draw reliably.
    return html`<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:8px 0 24px">
<tr><td style="border-radius:6px;background:${ACCENT}"><a href="${block.link}" style="display:inline-block;padding:12px 24px;${FONT};font-size:16px;font-weight:600;line-height:20px;color:#ffffff;text-decoration:none;border-radius:6px;background:${ACCENT}">${block.button}</a></td></tr>
</table>
<p style="margin:0 0 4px;font-size:14px;color:${MUTED}">Or open this link:</p>
<p style="margin:0 0 24px;font-size:14px;word-break:break-all"><a href="${block.link}" style="color:#0969da">${block.link}</a></p>`;
  }
  return html`<div style="margin:0 0 16px;padding:12px 14px;${MONO};font-size:16px;line-height:24px;letter-spacing:0.5px;color:${INK};background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;word-break:break-all">${block.code}</div>`;
}

function blockText(block: Block): string[] {
  if ('say' in block) return [block.say, ''];
  if ('note' in block) return [block.note, ''];
  if ('link' in block) return [`${block.label}, open this link:`, block.link, ''];
  return [block.code, ''];
}

function render(subject: string, username: string, blocks: Block[], link?: string): MailContent {
  const text = [`Hello ${username},`, '', ...blocks.flatMap(blockText), 'TaskMaster', ''];
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light"><title>${subject}</title></head>
<body style="margin:0;padding:0;background:#f6f8fa">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background:#f6f8fa">
<tr><td align="center" style="padding:32px 12px">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:560px;background:#ffffff;border:1px solid #d0d7de;border-radius:12px">
<tr><td style="padding:28px 32px 0;${FONT};font-size:18px;font-weight:700;color:${INK}"><span style="display:inline-block;width:14px;height:14px;margin-right:8px;vertical-align:-1px;background:${ACCENT};border-radius:4px"></span>TaskMaster</td></tr>
<tr><td style="padding:24px 32px 32px;${FONT};font-size:16px;line-height:24px;color:${INK}">
<p style="margin:0 0 16px">Hello ${username},</p>
${blocks.map((block) => html`${blockHtml(block)}\n`)}</td></tr>
</table>
<p style="margin:16px 0 0;${FONT};font-size:12px;color:${MUTED}">TaskMaster</p>
</td></tr>
</table>
</body></html>
`;
  return { subject, text: text.join('\n'), html: page.markup, ...(link ? { link } : {}) };
}

interface TokenMail {
  username: string;
  link: string;
  token: string;
  expiresAt: number;
}

function tokenMail(subject: string, intro: string, action: { label: string; button: string }, mail: TokenMail): MailContent {
  return render(
    subject,
    mail.username,
    [
      { say: intro },
      { link: mail.link, ...action },
      { say: 'Or paste this token into `taskmaster verify`:' },
      { code: mail.token },
      { note: `The link and the token expire in 24 hours (${formatExpiry(mail.expiresAt)}) and work once. If you didn't ask for this, ignore this email.` },
    ],
    mail.link,
  );
}

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
  return render('Your TaskMaster email is being changed', mail.username, [
    { say: `Someone signed in to your TaskMaster account asked to change its email to ${mail.newEmail}.` },
    { say: 'The change takes effect once the new address is confirmed. Your other sessions were ended.' },
    { say: `If this wasn't you, someone knows your password: change it now with \`taskmaster password change\`, which ends every other session${thenSupport}` },
  ]);
}

/**
 * After `DELETE /v1/me`: the goodbye, the only mail row that outlives the account. It says what
 * went, that the names are free again, and what to do if it was not the owner.
 */
export function accountDeletedMail(mail: { username: string; deletedAt: number; supportEmail?: string | undefined }): MailContent {
  const thenSupport = mail.supportEmail ? ` Write to ${mail.supportEmail} if you need help.` : '';
  return render('Your TaskMaster account was deleted', mail.username, [
    { say: `Your TaskMaster account ${mail.username} was deleted on ${formatExpiry(mail.deletedAt)}, confirmed with its password.` },
    { say: 'Its sessions, tokens and activity went with it: every device that was logged in is logged out.' },
    { say: 'The username and this email address are free again. To come back, create a new account with `taskmaster register`.' },
    {
      note: `If you didn't do this, someone knew your password: the account cannot be brought back, so change that password wherever else you use it.${thenSupport}`,
    },
  ]);
}

/** The password reset mail: link and token as the other token mails have them; 30 minutes, once, and harmless if unasked. */
export function passwordResetMail(mail: TokenMail): MailContent {
  return render(
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
      ? `The password of your TaskMaster account was reset from the emailed link (${formatExpiry(mail.at)}). Every session was ended, so every device logs in again with the new password.`
      : `The password of your TaskMaster account was changed from a signed-in session (${formatExpiry(mail.at)}). Your other sessions were ended.`;
  const ifNotYou =
    mail.how === 'reset'
      ? `If this wasn't you, someone can read your email: secure your email account first, then choose a new password with \`taskmaster password forgot\`, which ends every session${thenSupport}`
      : `If this wasn't you, someone knows your password: choose a new one now with \`taskmaster password forgot\`, which ends every session${thenSupport}`;
  return render('Your TaskMaster password was changed', mail.username, [
    { say: what },
    { say: ifNotYou },
    { note: 'If it was you, there is nothing more to do.' },
  ]);
}
