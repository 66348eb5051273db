// The mail layout: multipart text and HTML from one list of blocks, so the two always say the same.
// The HTML is built with `html` (server/core/html.ts), which escapes every value unless it is
// already Html, and styled inline only (mail clients drop <style> and block remote images, so
// there are none). Each capability writes its own mails with these (its mails.ts).
import { Html, html, withCode } from '../core/html.js';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
  /** The action link, logged by the embedded outbox so a developer can click it. */
  link?: string;
}

export function formatExpiry(expiresAt: number): string {
  return new Date(expiresAt).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
}

/**
 * A mail body as blocks: `say` a paragraph; `note` a quieter one; `link` a button labelled
 * `button` (in text: "<label>, open this link:" and the link on its own line); `code` the bare
 * token on a line of its own, for pasting into `taskmaster verify`.
 */
export type Block = { say: string } | { note: string } | { link: string; label: string; button: string } | { code: string };

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

export function renderMail(subject: string, username: string, blocks: Block[], link?: string): MailContent {
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

export interface TokenMail {
  username: string;
  link: string;
  token: string;
  expiresAt: number;
}

export function tokenMail(subject: string, intro: string, action: { label: string; button: string }, mail: TokenMail): MailContent {
  return renderMail(
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

