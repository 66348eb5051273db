// The /device pages: type the code the terminal shows, see what asks for access, approve or deny.
// RFC 8628 §5.4 (remote phishing): the page says plainly what approving grants (full access to the
// account) and shows where the request came from, so a code someone else sent is recognised.
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { html, type Html } from '../core/html.js';
import { say } from '../core/page.js';
import { csrfField } from '../web/csrf.js';
import { textField, webPage } from '../web/layout.js';
import { DEVICE_CLIENT_ID, formatUserCode } from '../contract/device.js';
import type { PendingAuthorization } from './authorizations.js';

type Web = Pick<Services, 'publicUrl'>;

const CLIENT_NAMES: Record<string, string> = { [DEVICE_CLIENT_ID]: 'TaskMaster command-line client (taskmaster login --web)' };

/** The code entry form, prefilled from `?user_code=` or what was typed; `problem` when it led nowhere. */
export function codeEntryPage(ctx: Context, services: Web, typed: string, problem?: string): Html {
  return webPage(ctx, services, {
    title: 'Log in a terminal',
    content: html`${say('Type the code your terminal shows after `taskmaster login --web`. You will see where the request comes from before anything is granted.')}
<form method="post" action="/device">
${csrfField(ctx, services, '/device')}
${textField({ name: 'user_code', label: 'Code from the terminal', value: typed, error: problem, autocomplete: 'off', autofocus: true, extra: html` autocapitalize="characters" spellcheck="false" maxlength="20" placeholder="XXXX-XXXX"` })}
<button type="submit">Continue</button>
</form>
${say('Did someone send you this code or link? Do not go on: whoever started it would get into your account.', true)}`,
  });
}

/** What asks for access, and the decision: the page RFC 8628 §5.4 asks for. */
export function confirmPage(ctx: Context, services: Web, pending: PendingAuthorization, username: string, now: number): Html {
  const code = formatUserCode(pending.userCode);
  const decision = (action: 'approve' | 'deny', label: string, style: Html | '') =>
    html`<form class="inline" method="post" action="/device">${csrfField(ctx, services, '/device')}<input type="hidden" name="user_code" value="${code}"><input type="hidden" name="action" value="${action}"><button type="submit"${style}>${label}</button></form>`;
  return webPage(ctx, services, {
    title: 'Give this terminal access?',
    content: html`<p>A terminal asks to be logged in to your account <span class="addr">${username}</span>.</p>
<dl>
<dt>Code</dt><dd><code>${code}</code> (it must match the one your terminal shows)</dd>
<dt>Asked by</dt><dd>${CLIENT_NAMES[pending.clientId] ?? pending.clientId}</dd>
<dt>From address</dt><dd>${pending.address}</dd>
<dt>Program</dt><dd>${pending.userAgent ?? 'not given'}</dd>
<dt>Asked at</dt><dd>${utcMinute(pending.createdAt)} (${ago(now - pending.createdAt)})</dd>
</dl>
<p class="alert" role="alert"><strong>Approving gives that terminal full access to your account</strong>: it can do everything you can, as a session of its own, until it logs out or you end that session. Approve only if you started <code>taskmaster login --web</code> yourself, just now, and the code matches.</p>
<p>${decision('approve', 'Approve', '')} ${decision('deny', 'Deny', html` class="secondary"`)}</p>
${say('Not you, or not sure? Deny: the terminal gets nothing.', true)}`,
  });
}

export function approvedPage(ctx: Context, services: Web, username: string): Html {
  return webPage(ctx, services, {
    title: 'Terminal logged in',
    tone: 'ok',
    content: html`<p>The terminal is logged in as <span class="addr">${username}</span> within a few seconds. You can close this page.</p>
${say('It is a session like any other: see it, or end it, in your account\'s sessions (or with `taskmaster sessions`).', true)}
<p><a href="/account">Your account</a></p>`,
  });
}

export function deniedPage(ctx: Context, services: Web): Html {
  return webPage(ctx, services, {
    title: 'Request denied',
    tone: 'bad',
    content: html`${say('The terminal was not given access, and its code no longer works.')}
${say('If you did not start this, someone may be trying to get into your account: consider changing your password.', true)}
<p><a href="/account">Your account</a></p>`,
  });
}

/** A code that leads nowhere, shown on the entry form. */
export const UNKNOWN_CODE = 'This code does not work: check it against your terminal. Codes last 15 minutes and work once; run taskmaster login --web again for a new one.';

function utcMinute(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function ago(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'just now';
  return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
}
