// The accounts' routes: registration, the emailed link (verification and email change), the
// profile and deletion. Each route calls one method of the accounts' logic and renders.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { isFormPost, jsonBody, jsonOrFormBody } from '../core/body.js';
import { HttpError } from '../core/errors.js';
import { sendPage, tooManyPage } from '../core/page.js';
import { requestBody, requestInfo } from '../core/request.js';
import type { MeResponse, VerifyResponse } from '../contract/api.js';
import { TOKEN_MAX } from '../contract/rules.js';
import { describeCredential, requireScope, requireSession, sessionRequired } from '../auth/authorize.js';
import { lookAtEmailToken } from './email-tokens.js';
import { accountDisabledPage, activatedPage, alreadyActivePage, confirmPage, emailChangedPage, emailTakenPage, invalidTokenPage } from './pages.js';

export function accountRoutes(router: Router, services: Services): void {
  router.post('/v1/users', jsonBody, async (ctx) => {
    const user = await services.accounts.register(requestBody(ctx), ctx.ip);
    ctx.status = 201;
    ctx.body = { user };
  });

  // The link from the email (verification and email change alike). Opening it changes nothing,
  // whoever opens it: mail scanners fetch every link, so only the page's button (a form POST) acts.
  // An unknown or expired token gets its 400 page at once, with nothing to press.
  router.get('/v1/verify', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token.trim() : '';
    const look = token === '' || token.length > TOKEN_MAX ? 'invalid' : await lookAtEmailToken(services.db, token, services.clock());
    if (look === 'usable') sendPage(ctx, 200, confirmPage(token));
    else if (look === 'disabled') sendPage(ctx, 403, accountDisabledPage());
    else sendPage(ctx, 400, invalidTokenPage(look === 'expired'));
  });

  router.post('/v1/verify', jsonOrFormBody, async (ctx) => {
    if (isFormPost(ctx)) return confirmFromPage(ctx, services);
    const { kind, user } = await services.accounts.verify(requestBody(ctx), ctx.ip, ctx.get('User-Agent') || null);
    ctx.body = { user, outcome: kind } satisfies VerifyResponse;
  });

  router.post('/v1/verify/resend', jsonBody, async (ctx) => {
    await services.accounts.resend(requestBody(ctx), ctx.ip);
    ctx.status = 202;
    ctx.body = { status: 'accepted', detail: 'If that account exists and is not verified yet, a new email is on its way.' };
  });

  router.get('/v1/me', async (ctx) => {
    const caller = await requireScope(ctx, services, 'account:read');
    ctx.body = { user: caller.user, credential: describeCredential(caller) } satisfies MeResponse;
  });

  // The password is asked again however fresh the session: a session alone cannot delete an account.
  router.delete('/v1/me', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.accountDeletion.deleteAccount(auth, requestBody(ctx), requestInfo(ctx));
    ctx.status = 204;
  });

  router.patch('/v1/me', jsonBody, async (ctx) => {
    const caller = await requireScope(ctx, services, 'account:write');
    const body = requestBody(ctx);
    // An access token changes the username only: the email is how an account is recovered.
    if (caller.accessToken && typeof body === 'object' && body !== null && 'email' in body) throw sessionRequired();
    ctx.body = { user: await services.accounts.updateProfile(caller.user.id, caller.tokenHash, body, requestInfo(ctx)) };
  });
}

/** The Confirm button pressed: a page, never JSON, whatever happens. */
async function confirmFromPage(ctx: Context, services: Services): Promise<void> {
  try {
    const { kind, user } = await services.accounts.verify(requestBody(ctx), ctx.ip, ctx.get('User-Agent') || null);
    const page = kind === 'activated' ? activatedPage(user.username) : kind === 'email_changed' ? emailChangedPage(user.email) : alreadyActivePage();
    sendPage(ctx, 200, page);
  } catch (error) {
    if (!(error instanceof HttpError) || error.status >= 500) throw error;
    ctx.set(error.headers);
    if (error.status === 429) sendPage(ctx, 429, tooManyPage(Number(error.headers['Retry-After'] ?? 60)));
    else if (error.code === 'email_taken') sendPage(ctx, 409, emailTakenPage());
    else if (error.code === 'account_disabled') sendPage(ctx, 403, accountDisabledPage());
    else sendPage(ctx, 400, invalidTokenPage(error.code === 'expired_token'));
  }
}
