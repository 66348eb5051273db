// The web pages' views, on the layout of layout.ts: what each page shows, with the values a refused
// form keeps (never a password) and its errors beside the fields they are about.
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { Html, html } from '../core/html.js';
import { say } from '../core/page.js';
import type { AccessTokenInfo, SessionInfo, User } from '../contract/api.js';
import { csrfField } from './csrf.js';
import { alertBox, noticeBox, passwordField, textField, webPage } from './layout.js';
import { passkeySignIn, passkeysSection, type PasskeysView } from '../passkeys/pages.js';

type Web = Pick<Services, 'publicUrl'>;

/** What a refused form shows again: the values typed (never a password), the errors by field, and one message over the form. */
export interface FormState {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  alert?: string | Html;
  notice?: string;
}

const hiddenNext = (next: string | undefined) => (next ? html`<input type="hidden" name="next" value="${next}">\n` : '');

/** `/` signed out: the way to sign in or to create an account. */
export function startPage(ctx: Context, services: Web): Html {
  return webPage(ctx, services, {
    title: 'Welcome to TaskMaster',
    content: html`${say('Sign in to see your account, its sessions and its access tokens.')}
<p class="actions"><a class="button" href="/login">Sign in</a><a class="button secondary" href="/register">Create an account</a></p>
${say('In a terminal, `taskmaster login` and `taskmaster register` do the same.', true)}`,
  });
}

/** `/login`: email and password; `next` comes back with the form. */
export function loginPage(ctx: Context, services: Web, next: string | undefined, form: FormState = {}): Html {
  const { values = {}, errors = {} } = form;
  return webPage(ctx, services, {
    title: 'Sign in',
    content: html`${noticeBox(form.notice)}${alertBox(form.alert)}<form method="post" action="/login">
${csrfField(ctx, services, '/login')}
${hiddenNext(next)}${textField({ name: 'email', label: 'Email', type: 'email', value: values.email, error: errors.email, autocomplete: 'username webauthn', autofocus: !values.email })}
${passwordField({ name: 'password', label: 'Password', error: errors.password, autocomplete: 'current-password', autofocus: Boolean(values.email) })}
<button type="submit">Sign in</button>
</form>
${passkeySignIn(ctx, services, next)}<p class="links"><a href="/register">Create an account</a><a href="/password/forgot">Forgot your password?</a></p>`,
  });
}

/** The second step of a sign-in with two-factor on: the code, for the challenge the password answered. */
export function codePage(ctx: Context, services: Web, challenge: string, next: string | undefined, form: FormState = {}): Html {
  return webPage(ctx, services, {
    title: 'Enter your code',
    content: html`${alertBox(form.alert)}${say('Two-factor authentication is on for this account. Enter the 6-digit code from your authenticator app, or one of your recovery codes.')}<form method="post" action="/login">
${csrfField(ctx, services, '/login')}
<input type="hidden" name="challenge" value="${challenge}">
${hiddenNext(next)}${textField({ name: 'code', label: 'Code from your authenticator app (or a recovery code)', error: form.errors?.code, autocomplete: 'one-time-code', autofocus: true, extra: html` inputmode="text" spellcheck="false" autocapitalize="off"` })}
<button type="submit">Verify</button>
</form>
<p class="links"><a href="/login">Start again</a></p>`,
  });
}

/** An account that cannot sign in until its email is confirmed: what to do, and a new email. */
export function unverifiedPage(ctx: Context, services: Web, email: string): Html {
  return webPage(ctx, services, {
    title: 'Confirm your email first',
    tone: 'bad',
    content: html`<p>The password is right, but the email <span class="addr">${email}</span> is not confirmed yet. Open the link in the email we sent when the account was made, then sign in.</p>
<form method="post" action="/login/resend">
${csrfField(ctx, services, '/login/resend')}
<input type="hidden" name="email" value="${email}">
<button type="submit" class="secondary">Send the email again</button>
</form>
<p class="links"><a href="/login">Back to sign in</a></p>`,
  });
}

/** After a registration, a resend or a forgotten password: look in the mailbox. */
export function checkEmailPage(ctx: Context, services: Web, parts: { title: string; lead: Html; after: string }): Html {
  return webPage(ctx, services, {
    title: parts.title,
    tone: 'ok',
    content: html`${parts.lead}${say(parts.after)}${say('No email after a few minutes? Look in the spam folder, and check the address.', true)}<p class="links"><a href="/login">Sign in</a></p>`,
  });
}

/** `/register`: email, username, the password twice; the rules shown. */
export function registerPage(ctx: Context, services: Web, form: FormState = {}): Html {
  const { values = {}, errors = {} } = form;
  return webPage(ctx, services, {
    title: 'Create an account',
    content: html`${alertBox(form.alert)}<form method="post" action="/register">
${csrfField(ctx, services, '/register')}
${textField({ name: 'email', label: 'Email', type: 'email', value: values.email, error: errors.email, autocomplete: 'email', autofocus: true })}
${textField({ name: 'username', label: 'Username', value: values.username, error: errors.username, autocomplete: 'username', extra: html` spellcheck="false" autocapitalize="off"` })}
<p class="field-hint">3 to 32 letters, digits, <code>-</code>, <code>_</code> or <code>.</code>, starting with a letter or digit.</p>
${passwordField({ name: 'password', label: 'Password', error: errors.password, autocomplete: 'new-password', extra: html` minlength="8" aria-describedby="rules"` })}
${passwordField({ name: 'confirm', label: 'Password again', error: errors.confirm, autocomplete: 'new-password', extra: html` minlength="8"` })}
<ul class="rules" id="rules">
<li>8 to 256 characters; spaces and any letters are fine.</li>
<li>Hard to guess: not a common password, a word with digits, or a keyboard pattern. A few unrelated words work well.</li>
<li>Not containing your username or the part of your email before the @.</li>
</ul>
<button type="submit">Create the account</button>
</form>
<p class="links"><a href="/login">Have an account? Sign in</a></p>`,
  });
}

/** `/password/forgot`: the address to send a reset link to. */
export function forgotPage(ctx: Context, services: Web, form: FormState = {}): Html {
  return webPage(ctx, services, {
    title: 'Forgot your password?',
    content: html`${alertBox(form.alert)}${say('Enter the email of your account: we send it a link to choose a new password.')}<form method="post" action="/password/forgot">
${csrfField(ctx, services, '/password/forgot')}
${textField({ name: 'email', label: 'Email', type: 'email', value: form.values?.email, error: form.errors?.email, autocomplete: 'email', autofocus: true })}
<button type="submit">Send the link</button>
</form>
<p class="links"><a href="/login">Back to sign in</a></p>`,
  });
}

// ---- the dashboard ---------------------------------------------------------------------------------

/** Where each dashboard form shows what went wrong (only one form at a time is refused). */
export type AccountForm = 'username' | 'email' | 'sessions' | 'tokens' | 'passkeys';

export interface AccountView {
  user: User;
  sessions: SessionInfo[];
  tokens: AccessTokenInfo[];
  now: number;
  /** The Passkeys section: the account's passkeys, whether one may be added now, and its refused form. */
  passkeys: Omit<PasskeysView, 'user'>;
  /** The form that was refused, and what it shows again. */
  refused?: { form: AccountForm; state: FormState };
  notice?: string;
  /** Said in the Passkeys section (added, renamed, removed). */
  passkeysNotice?: string;
}

const when = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : 'never');

function sessionItem(ctx: Context, services: Web, session: SessionInfo): Html {
  return html`<li><div><strong>${session.userAgent ?? 'Unknown client'}</strong>${session.current ? html`<span class="tag">this browser</span>` : ''}<br>
<span class="muted">From ${session.address ?? 'an unknown address'} · signed in ${when(session.createdAt)} · last used ${when(session.lastUsedAt)}</span></div>
${session.current ? '' : html`<form class="inline" method="post" action="/account/sessions/end">${csrfField(ctx, services, '/account/sessions/end')}<input type="hidden" name="id" value="${session.id}"><button type="submit" class="danger" aria-label="End the session of ${session.userAgent ?? 'an unknown client'} from ${session.address ?? 'an unknown address'}">End</button></form>`}</li>
`;
}

function tokenItem(ctx: Context, services: Web, token: AccessTokenInfo, now: number): Html {
  const expired = Date.parse(token.expiresAt) <= now;
  return html`<li><div><strong>${token.name}</strong> <code>${token.prefix}…</code><br>
<span class="muted">${token.scopes.join(', ')} · ${expired ? 'expired' : 'expires'} ${when(token.expiresAt)} · last used ${when(token.lastUsedAt)}${token.lastUsedAddress ? ` from ${token.lastUsedAddress}` : ''}</span></div>
${expired ? '' : html`<form class="inline" method="post" action="/account/tokens/revoke">${csrfField(ctx, services, '/account/tokens/revoke')}<input type="hidden" name="id" value="${token.id}"><button type="submit" class="danger" aria-label="Revoke the access token ${token.name}">Revoke</button></form>`}</li>
`;
}

/** `/account`: the profile and its changes, two-factor, sessions and access tokens. */
export function accountPage(ctx: Context, services: Web, view: AccountView): Html {
  const { user } = view;
  const refused = (form: AccountForm) => (view.refused?.form === form ? view.refused.state : {});
  const usernameForm = refused('username');
  const emailForm = refused('email');
  const others = view.sessions.filter((session) => !session.current).length;
  return webPage(ctx, services, {
    title: 'Your account',
    wide: true,
    content: html`${noticeBox(view.notice)}<dl>
<dt>Username</dt><dd>${user.username}</dd>
<dt>Email</dt><dd><span class="addr">${user.email}</span>${user.pendingEmail ? html`<br><span class="muted">Changing to <span class="addr">${user.pendingEmail}</span>: open the link sent there to confirm it.</span>` : ''}</dd>
<dt>Two-factor</dt><dd>${user.twoFactorEnabled ? 'On' : 'Off'}</dd>
<dt>Member since</dt><dd>${user.createdAt.slice(0, 10)}</dd>
</dl>

<h2 id="username">Username</h2>
${alertBox(usernameForm.alert)}<form method="post" action="/account/username">
${csrfField(ctx, services, '/account/username')}
${textField({ name: 'username', label: 'New username', value: usernameForm.values?.username ?? user.username, error: usernameForm.errors?.username, autocomplete: 'username', extra: html` spellcheck="false" autocapitalize="off"` })}
<button type="submit">Change the username</button>
</form>

<h2 id="email">Email</h2>
${alertBox(emailForm.alert)}${say('The new address gets a link to confirm it; until then your email stays as it is. Your other sessions end.', true)}<form method="post" action="/account/email">
${csrfField(ctx, services, '/account/email')}
${textField({ name: 'email', label: 'New email', type: 'email', value: emailForm.values?.email, error: emailForm.errors?.email, autocomplete: 'email' })}
${passwordField({ name: 'currentPassword', label: 'Current password', error: emailForm.errors?.currentPassword, autocomplete: 'current-password' })}
${user.twoFactorEnabled ? textField({ name: 'code', label: 'Code from your authenticator app (or a recovery code)', value: '', error: emailForm.errors?.code, autocomplete: 'one-time-code', extra: html` spellcheck="false" autocapitalize="off"` }) : ''}
<button type="submit">Change the email</button>
</form>

<h2 id="two-factor">Two-factor authentication</h2>
${
  user.twoFactorEnabled
    ? say('On: signing in asks for a code from your authenticator app after the password. New recovery codes: `taskmaster 2fa recovery-codes`; turning it off: `taskmaster 2fa disable`.')
    : say('Off. Turn it on in a terminal with `taskmaster 2fa enable`: signing in will then ask for a code from your authenticator app too.')
}
${passkeysSection(ctx, services, { user, ...view.passkeys }, view.passkeysNotice)}
<h2 id="sessions">Sessions</h2>
${alertBox(refused('sessions').alert)}${say('Every browser and terminal signed in to your account. Ending a session signs that device out at once.', true)}<ul class="items">
${view.sessions.map((session) => sessionItem(ctx, services, session))}</ul>
${
  others > 0
    ? html`<form method="post" action="/account/sessions/end-others">${csrfField(ctx, services, '/account/sessions/end-others')}<button type="submit" class="danger">End all other sessions (${others})</button></form>\n`
    : say('No other session.', true)
}
<h2 id="tokens">Access tokens</h2>
${alertBox(refused('tokens').alert)}${
  view.tokens.length > 0
    ? html`<ul class="items">\n${view.tokens.map((token) => tokenItem(ctx, services, token, view.now))}</ul>\n`
    : say('No access tokens. Scripts and CI get one with `taskmaster token create`.', true)
}`,
  });
}
