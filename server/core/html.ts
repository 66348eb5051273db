// The small, self-contained HTML pages: the verification link's Confirm page and what pressing it
// answers, and the problem type pages. Built with `html` (escaping by default); one stylesheet,
// allowed by its hash; no script, nothing loaded from elsewhere.
import { createHash } from 'node:crypto';
import { Html, html, withCode } from '../mail/templates.js';
import { describeWait } from './throttle.js';

const STYLE = `body{margin:0;background:#f6f8fa;color:#1f2328;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:12px}
.brand{margin:0 0 1.5rem;font-weight:700}.brand span{display:inline-block;width:.8rem;height:.8rem;margin-right:.5rem;background:#1f6feb;border-radius:3px}
h1{margin:0 0 1rem;font-size:1.5rem;line-height:1.25}.ok{color:#1a7f37}.bad{color:#cf222e}
p{margin:0 0 1rem}.muted{color:#59636e;font-size:.9rem}
.addr{display:inline-block;max-width:100%;overflow-wrap:anywhere;font-weight:600}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:#eff2f5;padding:.1rem .35rem;border-radius:4px}
pre{margin:0 0 1rem;padding:.6rem .8rem;background:#eff2f5;border-radius:6px;overflow-x:auto}pre code{padding:0;background:none}
form{margin:1.5rem 0}
button{font:inherit;font-weight:600;color:#fff;background:#1f6feb;border:0;border-radius:6px;padding:.7rem 1.75rem;cursor:pointer}
button:hover{background:#1a5fd0}button:focus-visible{outline:3px solid #80b3ff;outline-offset:2px}
label{display:block;margin:0 0 .35rem;font-weight:600}
input[type=password]{box-sizing:border-box;width:100%;margin:0 0 1rem;padding:.6rem .75rem;font:inherit;color:inherit;background:#fff;border:1px solid #d0d7de;border-radius:6px}
input[type=password]:focus{outline:3px solid #80b3ff;outline-offset:0;border-color:#1f6feb}
.rules{margin:0 0 1.5rem;padding-left:1.25rem;color:#59636e;font-size:.9rem}
.alert{margin:0 0 1rem;padding:.6rem .8rem;color:#82071e;background:#ffebe9;border:1px solid #ff8182;border-radius:6px}
@media (max-width:36rem){main{margin:0;border:0;border-radius:0}}`;

/**
 * A strict policy: nothing loads, only this one stylesheet applies (by its hash), no script runs,
 * and the only form may post to this server.
 */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;

/** The headers of every page: the policy above, no referrer (the address holds a token), no framing. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': PAGE_CSP,
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** Answers a page: its status, the page headers, HTML. (Cache-Control: no-store comes from the app's frame.) */
export function sendPage(ctx: { status: number; type: string; body: unknown; set(headers: Record<string, string>): void }, status: number, page: Html): void {
  ctx.status = status;
  ctx.set({ ...PAGE_HEADERS });
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = page.markup;
}

// The stylesheet goes in as written (not escaped): the CSP allows it by its exact hash.
function page(title: string, tone: 'ok' | 'bad' | 'plain', content: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${title} · TaskMaster</title>
<style>${new Html(STYLE)}</style></head>
<body>
<main>
<p class="brand"><span></span>TaskMaster</p>
<h1${tone === 'plain' ? '' : html` class="${tone}"`}>${title}</h1>
${content}
</main>
</body>
</html>
`;
}

/** `text` as a paragraph, with `command` spans as <code>. */
const say = (text: string, muted = false) => html`<p${muted ? html` class="muted"` : ''}>${withCode(text)}</p>\n`;

/** What to type next, on a line of its own (a command broken across lines is hard to read). */
const inTerminal = (lead: string, command: string) => html`<p>${lead}, in your terminal:</p>\n<pre><code>${command}</code></pre>\n`;

/**
 * What the emailed link opens. Opening it changes nothing, so a mail scanner that follows every
 * link activates nothing; the button posts the token.
 */
export function confirmPage(token: string): Html {
  return page(
    'Confirm your email',
    'plain',
    html`${say('Press Confirm to finish confirming your email address for TaskMaster.')}<form method="post" action="/v1/verify">
<input type="hidden" name="token" value="${token}">
<button type="submit">Confirm</button>
</form>
${say('Opening the link did nothing by itself: mail scanners open links too, so confirming takes a press.', true)}`,
  );
}

export function activatedPage(username: string): Html {
  return page('Account activated', 'ok', html`<p>Welcome, ${username}. Your TaskMaster account is active.</p>\n${inTerminal('Next', 'taskmaster login')}`);
}

export function alreadyActivePage(): Html {
  return page('Account already active', 'ok', html`${say('This link was used already and the account is active.')}${inTerminal('Next', 'taskmaster login')}`);
}

export function emailChangedPage(email: string): Html {
  return page('Email confirmed', 'ok', html`<p>Your TaskMaster email is now <span class="addr">${email}</span>.</p>\n${inTerminal('Next', 'taskmaster profile')}`);
}

export function emailTakenPage(): Html {
  return page(
    'This email is taken',
    'bad',
    html`${say('Another account started using this address before it was confirmed here, so your email stays as it was.')}${inTerminal('Choose another one', 'taskmaster profile update --email …')}`,
  );
}

export function invalidTokenPage(expired: boolean): Html {
  return page(
    expired ? 'This link has expired' : 'This link is not valid',
    'bad',
    html`${say(expired ? 'Links in TaskMaster emails work for 24 hours.' : 'It may have been mistyped, replaced by a newer email, or used already.')}${inTerminal(
      'Ask for a new email',
      'taskmaster verify --resend --email you@example.com',
    )}`,
  );
}

export function tooManyPage(seconds: number): Html {
  return page('Too many attempts', 'bad', say(`Too many links that did not work came from your address. Try again in ${describeWait(seconds)}.`));
}

/** The page a problem's `type` URI opens. */
export function problemPage(problem: { code: string; title: string; status: number; description: string }): Html {
  return page(
    problem.title,
    'plain',
    html`<p>Problem code <code>${problem.code}</code>, HTTP status ${problem.status}.</p>
${say(problem.description)}${say('The API answers it as RFC 9457 `application/problem+json`; its `detail` says what happened that time.', true)}`,
  );
}

/**
 * The password reset link's page: the new password typed twice, the rules shown, no script. Opening
 * it changes nothing; the form posts the token with the password. `problem` is the last refusal
 * (mismatch, too weak), shown above the form; the fields start empty again, never echoed.
 */
export function resetFormPage(form: { token: string; username: string; email: string; problem?: string | undefined }): Html {
  return page(
    'Choose a new password',
    'plain',
    html`<p>For the TaskMaster account <span class="addr">${form.username}</span> (${form.email}).</p>
${form.problem ? html`<p class="alert" role="alert">${form.problem}</p>
` : ''}<form method="post" action="/v1/password/reset">
<input type="hidden" name="token" value="${form.token}">
<input type="email" name="username" autocomplete="username" value="${form.email}" hidden readonly>
<label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="8" required aria-describedby="rules"${form.problem ? ' autofocus' : ''}>
<label for="confirm">New password again</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" minlength="8" required>
<ul class="rules" id="rules">
<li>8 to 256 characters; spaces and any letters are fine.</li>
<li>Hard to guess: not a common password, a word with digits, or a keyboard pattern. A few unrelated words work well.</li>
<li>Not containing your username or the part of your email before the @.</li>
</ul>
<button type="submit">Set the new password</button>
</form>
${say('Setting it ends every session of the account: each device logs in again with the new password.', true)}`,
  );
}

export function passwordResetPage(username: string): Html {
  return page(
    'Password changed',
    'ok',
    html`<p>The password of <span class="addr">${username}</span> is changed. Every session of the account has ended.</p>
${inTerminal('Log in with it', 'taskmaster login')}`,
  );
}

/** An unknown, used or expired reset link: alike, and the way on. */
export function resetLinkInvalidPage(): Html {
  return page(
    'This reset link does not work',
    'bad',
    html`${say('Reset links work once, for 30 minutes, and only the newest one sent. This one was used already, has expired, was replaced, or was mistyped.')}${inTerminal(
      'Ask for a new one',
      'taskmaster password forgot',
    )}`,
  );
}
