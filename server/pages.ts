// The small, self-contained HTML pages the verification link opens. No external assets.
import { createHash } from 'node:crypto';
import { escapeHtml } from './mail/templates.js';

const STYLE = `body{font-family:system-ui,-apple-system,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1f2328;line-height:1.5}
h1{font-size:1.5rem}code{background:#f0f2f4;padding:0.15rem 0.35rem;border-radius:4px}.ok{color:#1a7f37}.bad{color:#cf222e}`;

/** A strict policy: nothing loads, only this one inline style runs (by its hash). */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function page(title: string, tone: 'ok' | 'bad', lines: string[]): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · TaskMaster</title>
<style>${STYLE}</style></head>
<body>
<h1 class="${tone}">${escapeHtml(title)}</h1>
${lines.map((line) => `<p>${line}</p>`).join('\n')}
</body>
</html>
`;
}

export function activatedPage(username: string): string {
  return page('Account activated', 'ok', [
    `Welcome, ${escapeHtml(username)}. Your TaskMaster account is active.`,
    'Next, in your terminal: <code>taskmaster login</code>',
  ]);
}

export function alreadyActivePage(): string {
  return page('Account already active', 'ok', ['This link was used already and the account is active.', 'Next, in your terminal: <code>taskmaster login</code>']);
}

export function emailChangedPage(email: string): string {
  return page('Email confirmed', 'ok', [`Your TaskMaster email is now ${escapeHtml(email)}.`, 'Next, in your terminal: <code>taskmaster profile</code>']);
}

export function invalidTokenPage(expired: boolean): string {
  return page(expired ? 'This link has expired' : 'This link is not valid', 'bad', [
    expired ? 'Verification links work for 24 hours.' : 'It may have been mistyped, replaced by a newer email, or used already.',
    'Ask for a new email in your terminal: <code>taskmaster verify --resend --email you@example.com</code>',
  ]);
}

export function tooManyPage(seconds: string): string {
  return page('Too many attempts', 'bad', [`Try again in ${escapeHtml(seconds)} seconds.`]);
}
