// The web pages: the start page, sign-in (with the code step), registration, the forgotten-password
// form, the account dashboard and sign-out. Server-rendered, no script; every POST passes
// requireCsrf first; every refusal is a page (pageRoute). Each route calls the capabilities' own
// logic (login, accounts, passwords, sessions, tokens) and renders: their rules, throttles and
// answers are theirs, not written again here.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { HttpError } from '../core/errors.js';
import { html } from '../core/html.js';
import { requestInfo } from '../core/request.js';
import type { Authenticated } from '../sessions/store.js';
import { formBody, formFields, requireCsrf } from './csrf.js';
import { pageRoute, safeNext, seeOther, sendWebPage, signInPath } from './layout.js';
import { RECENT_SIGN_IN_MS } from '../passkeys/store.js';
import type { PasskeysView } from '../passkeys/pages.js';
import { accountPage, checkEmailPage, codePage, forgotPage, loginPage, registerPage, startPage, unverifiedPage, type AccountForm, type FormState } from './pages.js';
import { browserSession, deviceTokenOf, endBrowserSession, startBrowserSession } from './session.js';

/** What a dashboard action did, said once on the page it lands on (`/account?done=…`): fixed texts, nothing from the request. */
const DONE: Readonly<Record<string, string>> = {
  username: 'Your username is changed.',
  email: 'Almost done: open the link we sent to the new address to confirm it. Your other sessions have ended.',
  session: 'The session has ended: that device is signed out.',
  others: 'Every other session has ended.',
  token: 'The access token is revoked: it no longer works anywhere.',
};

/** The same, said in the Passkeys section. */
const PASSKEYS_DONE: Readonly<Record<string, string>> = {
  passkey_added: 'The passkey is added: use it with "Sign in with a passkey" on the sign-in page, and to approve taskmaster login --web.',
  passkey_renamed: 'The passkey is renamed.',
  passkey_removed: 'The passkey is removed: it no longer signs in.',
  confirmed: 'Signed in again: you can add a passkey for the next 10 minutes.',
};

const query = (ctx: Context, name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);

/** A refusal the capabilities answered (4xx), to show on the form; anything else goes on as it is. */
function refusalOf(error: unknown): HttpError {
  if (error instanceof HttpError && error.status < 500) return error;
  throw error;
}

/** A 429's wait goes to the browser too (Retry-After), beside the message on the form. */
function statusFor(ctx: Context, error: HttpError): number {
  if (error.headers['Retry-After']) ctx.set('Retry-After', error.headers['Retry-After']);
  return error.status;
}

export function webRoutes(router: Router, services: Services): void {
  router.get('/', pageRoute(services, async (ctx) => {
    if (await browserSession(ctx, services)) return seeOther(ctx, '/account');
    sendWebPage(ctx, 200, startPage(ctx, services));
  }));

  // ---- signing in ----------------------------------------------------------------------------------

  router.get('/login', pageRoute(services, async (ctx) => {
    const next = safeNext(query(ctx, 'next'));
    if (await browserSession(ctx, services)) return seeOther(ctx, next ?? '/account');
    const notice = query(ctx, 'signed_out') === '1' ? 'You are signed out.' : undefined;
    sendWebPage(ctx, 200, loginPage(ctx, services, next, notice ? { notice } : {}));
  }));

  // The password (or, with `challenge`, the code step): the same flow as POST /v1/sessions and
  // /v1/sessions/otp, so its throttles, two-factor and answers hold here too.
  router.post('/login', formBody, pageRoute(services, async (ctx) => {
    await requireCsrf(ctx, services);
    const fields = formFields(ctx);
    const next = safeNext(fields.next);
    const deviceToken = deviceTokenOf(ctx, services);
    const request = requestInfo(ctx);
    const email = fields.email ?? '';
    try {
      const login = fields.challenge
        ? await services.login.loginWithChallenge({ challenge: fields.challenge, code: fields.code ?? '', ...(deviceToken ? { deviceToken } : {}) }, request)
        : await services.login.login({ email, password: fields.password ?? '', ...(deviceToken ? { deviceToken } : {}) }, request);
      startBrowserSession(ctx, services, login);
      return seeOther(ctx, next ?? '/account');
    } catch (caught) {
      const error = refusalOf(caught);
      const challenge = typeof error.extensions.challenge === 'string' ? error.extensions.challenge : undefined;
      if (error.code === 'otp_required' && challenge) return sendWebPage(ctx, 200, codePage(ctx, services, challenge, next));
      if (fields.challenge && (error.code === 'invalid_code' || (error.code === 'invalid_input' && error.errors?.code))) {
        const message = error.code === 'invalid_code' ? 'That code is not right, or was used already. Try the next code your app shows.' : error.errors?.code;
        return sendWebPage(ctx, error.status, codePage(ctx, services, fields.challenge, next, { errors: { code: message ?? 'Enter the code.' } }));
      }
      if (error.code === 'email_not_verified') return sendWebPage(ctx, 403, unverifiedPage(ctx, services, email));
      const state: FormState = { values: { email } };
      if (error.code === 'invalid_challenge') state.alert = 'That sign-in took too long or had too many wrong codes. Sign in again.';
      else if (error.code === 'invalid_credentials') state.alert = 'The email or the password is not right.';
      else if (error.code === 'invalid_input') state.errors = error.errors ?? {};
      else state.alert = error.detail;
      sendWebPage(ctx, statusFor(ctx, error), loginPage(ctx, services, next, state));
    }
  }));

  // "Send the email again" on the page of an unconfirmed account: the same answer whatever the address.
  router.post('/login/resend', formBody, pageRoute(services, async (ctx) => {
    await requireCsrf(ctx, services);
    const email = formFields(ctx).email ?? '';
    await services.accounts.resend({ email }, ctx.ip);
    sendWebPage(ctx, 200, checkEmailPage(ctx, services, { title: 'Check your email', lead: html`<p>If <span class="addr">${email}</span> has an account still to confirm, a new email is on its way.</p>\n`, after: 'Open its link to confirm the address, then sign in.' }));
  }));

  // ---- registering ---------------------------------------------------------------------------------

  router.get('/register', pageRoute(services, async (ctx) => {
    if (await browserSession(ctx, services)) return seeOther(ctx, '/account');
    sendWebPage(ctx, 200, registerPage(ctx, services));
  }));

  // The same rules and answers as POST /v1/users (Accounts.register); the two passwords are the page's own check.
  router.post('/register', formBody, pageRoute(services, async (ctx) => {
    await requireCsrf(ctx, services);
    const { email = '', username = '', password = '', confirm = '' } = formFields(ctx);
    const values = { email, username };
    if (password !== confirm) return sendWebPage(ctx, 400, registerPage(ctx, services, { values, errors: { confirm: 'The two passwords do not match. Type the password twice.' } }));
    try {
      const user = await services.accounts.register({ email, username, password }, ctx.ip);
      sendWebPage(ctx, 201, checkEmailPage(ctx, services, { title: 'Check your email', lead: html`<p>Welcome, ${user.username}. We sent a link to <span class="addr">${user.email}</span>.</p>\n`, after: 'Open it to confirm your address (it works for 24 hours), then sign in.' }));
    } catch (caught) {
      const error = refusalOf(caught);
      const state: FormState = { values };
      if (error.errors && Object.keys(error.errors).some((field) => field !== 'body')) state.errors = error.errors;
      else state.alert = error.detail;
      sendWebPage(ctx, statusFor(ctx, error), registerPage(ctx, services, state));
    }
  }));

  // ---- a forgotten password: the link comes by email, its page is /v1/password/reset ---------------

  router.get('/password/forgot', pageRoute(services, async (ctx) => {
    sendWebPage(ctx, 200, forgotPage(ctx, services));
  }));

  router.post('/password/forgot', formBody, pageRoute(services, async (ctx) => {
    await requireCsrf(ctx, services);
    const email = formFields(ctx).email ?? '';
    try {
      await services.passwords.forgot({ email }, requestInfo(ctx));
    } catch (caught) {
      const error = refusalOf(caught);
      const state: FormState = { values: { email }, ...(error.errors?.email ? { errors: { email: error.errors.email } } : { alert: error.detail }) };
      return sendWebPage(ctx, statusFor(ctx, error), forgotPage(ctx, services, state));
    }
    sendWebPage(ctx, 200, checkEmailPage(ctx, services, { title: 'Check your email', lead: html`<p>If <span class="addr">${email}</span> has an account, a link to choose a new password is on its way.</p>\n`, after: 'It works once, for 30 minutes.' }));
  }));

  // ---- the dashboard -------------------------------------------------------------------------------

  router.get('/account', pageRoute(services, async (ctx) => {
    const auth = await browserSession(ctx, services);
    if (!auth) return seeOther(ctx, signInPath('/account'));
    const done = query(ctx, 'done');
    await showAccount(ctx, services, auth, 200, done && Object.hasOwn(DONE, done) ? { notice: DONE[done] } : done && Object.hasOwn(PASSKEYS_DONE, done) ? { passkeysNotice: PASSKEYS_DONE[done] } : {});
  }));

  /** A dashboard form: signed in (or to /login), CSRF checked, then `act`; a refusal shows the dashboard again with it at its form. */
  const accountAction = (path: string, form: AccountForm, act: (ctx: Context, auth: Authenticated, fields: Record<string, string>) => Promise<string>, kept: (fields: Record<string, string>) => Record<string, string> = () => ({})) => {
    router.post(path, formBody, pageRoute(services, async (ctx) => {
      const auth = await browserSession(ctx, services);
      if (!auth) return seeOther(ctx, signInPath('/account'));
      await requireCsrf(ctx, services);
      const fields = formFields(ctx);
      try {
        seeOther(ctx, `/account?done=${await act(ctx, auth, fields)}#${form}`);
      } catch (caught) {
        const error = refusalOf(caught);
        if (error.status === 401 && error.code === 'unauthenticated') return seeOther(ctx, signInPath('/account'));
        const state: FormState = { values: kept(fields) };
        const fieldErrors = { ...error.errors };
        delete fieldErrors.body;
        if (error.code === 'otp_required') state.errors = { code: 'Enter the code from your authenticator app (or a recovery code).' };
        else if (error.code === 'invalid_code') state.errors = { code: 'That code is not right, or was used already.' };
        else if (error.code === 'not_found') state.alert = form === 'tokens' ? 'That access token is gone already.' : 'That session has ended already.';
        else if (Object.keys(fieldErrors).length > 0) state.errors = fieldErrors;
        else state.alert = error.detail;
        await showAccount(ctx, services, auth, statusFor(ctx, error), { refused: { form, state } });
      }
    }));
  };

  accountAction('/account/username', 'username', async (ctx, auth, fields) => {
    await services.accounts.updateProfile(auth.user.id, auth.tokenHash, { username: fields.username ?? '' }, requestInfo(ctx));
    return 'username';
  }, (fields) => ({ username: fields.username ?? '' }));

  // With the password (and the code when two-factor is on), as PATCH /v1/me asks.
  accountAction('/account/email', 'email', async (ctx, auth, fields) => {
    const { email = '', currentPassword = '', code = '' } = fields;
    await services.accounts.updateProfile(auth.user.id, auth.tokenHash, { email, currentPassword, ...(code.trim() ? { code } : {}) }, requestInfo(ctx));
    return 'email';
  }, (fields) => ({ email: fields.email ?? '' }));

  accountAction('/account/sessions/end', 'sessions', async (ctx, auth, fields) => {
    await services.sessions.revokeById(auth.user.id, fields.id ?? '', requestInfo(ctx));
    return 'session';
  });

  accountAction('/account/sessions/end-others', 'sessions', async (ctx, auth) => {
    await services.sessions.revokeScope(auth, 'others', requestInfo(ctx));
    return 'others';
  });

  accountAction('/account/tokens/revoke', 'tokens', async (ctx, auth, fields) => {
    await services.tokens.revoke(auth.user.id, fields.id ?? '', requestInfo(ctx));
    return 'token';
  });

  // ---- signing out ---------------------------------------------------------------------------------

  // Ends this browser's session (the row, every daemon's cache), forgets the cookie, back to /login.
  router.post('/logout', formBody, pageRoute(services, async (ctx) => {
    const auth = await browserSession(ctx, services);
    if (!auth) return seeOther(ctx, signInPath());
    await requireCsrf(ctx, services);
    await services.sessions.logout(auth, requestInfo(ctx));
    endBrowserSession(ctx, services);
    seeOther(ctx, '/login?signed_out=1');
  }));
}

/** The dashboard, with what a form's answer adds: a notice, or the refused form (the Passkeys section's its own way). */
export async function showAccount(
  ctx: Context,
  services: Services,
  auth: Authenticated,
  status: number,
  extra: { notice?: string | undefined; passkeysNotice?: string | undefined; refused?: { form: AccountForm; state: FormState }; passkeysRefused?: PasskeysView['refused'] },
): Promise<void> {
  const [user, sessions, tokens, passkeys, signedInAt] = await Promise.all([
    services.sessions.activeUser(auth.user.id),
    services.sessions.list(auth),
    services.tokens.list(auth.user.id),
    services.passkeys.list(auth.user.id),
    services.sessions.signedInAt(auth),
  ]);
  const now = services.clock();
  const { passkeysRefused, ...rest } = extra;
  const recentSignIn = signedInAt !== undefined && now - signedInAt <= RECENT_SIGN_IN_MS;
  sendWebPage(ctx, status, accountPage(ctx, services, { user, sessions, tokens, now, passkeys: { passkeys, recentSignIn, ...(passkeysRefused ? { refused: passkeysRefused } : {}) }, ...rest }));
}
