import type Router from '@koa/router';
import type { Context } from 'koa';
import { HttpError } from '../core/errors.js';
import { sendPage, tooManyPage } from '../core/page.js';
import { passwordResetPage, resetFormPage, resetLinkInvalidPage } from './pages.js';
import { invalidResetToken } from './passwords.js';
import { accountDisabled } from '../accounts/users.js';
import { accountDisabledPage } from '../accounts/pages.js';
import type { AcceptedResponse, PasswordChangeResponse, ResetTokenInfo, UserResponse } from '../contract/api.js';
import { isFormPost, jsonBody, jsonOrFormBody } from '../core/body.js';
import type { Services } from '../capabilities.js';
import { requestBody, requestInfo } from '../core/request.js';
import { requireScope, requireSession } from '../auth/authorize.js';

export function passwordRoutes(router: Router, services: Services): void {
  router.post('/v1/password/forgot', jsonBody, async (ctx) => {
    await services.passwords.forgot(requestBody(ctx), requestInfo(ctx));
    ctx.status = 202;
    ctx.body = { status: 'accepted', detail: 'If an account has this email, a reset email is on its way. Its link and token work for 30 minutes.' } satisfies AcceptedResponse;
  });

  // The link from the reset email: a form, nothing more. GET and HEAD change nothing (mail
  // scanners open links); a link that would not work says so at once, with the way on. Asked for
  // JSON (the CLI, before it asks for the new password), it says whose account the token is for.
  router.get('/v1/password/reset', async (ctx) => {
    ctx.vary('Accept');
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const target = await services.passwords.resetTarget(token);
    if (ctx.accepts('html', 'json') === 'json') {
      if (!target) throw invalidResetToken();
      if (target.disabled) throw accountDisabled();
      ctx.body = { username: target.username, email: target.email } satisfies ResetTokenInfo;
    } else if (target?.disabled) sendPage(ctx, 403, accountDisabledPage());
    else if (target) sendPage(ctx, 200, resetFormPage({ token: token.trim(), username: target.username, email: target.email }));
    else sendPage(ctx, 400, resetLinkInvalidPage());
  });

  router.post('/v1/password/reset', jsonOrFormBody, async (ctx) => {
    if (isFormPost(ctx)) return resetFromPage(ctx, services);
    ctx.body = { user: await services.passwords.reset(requestBody(ctx), requestInfo(ctx)) } satisfies UserResponse;
  });

  router.post('/v1/me/password', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = (await services.passwords.change(auth, requestBody(ctx), requestInfo(ctx))) satisfies PasswordChangeResponse;
  });
}

/** The reset form submitted: a page, never JSON. A mismatch or a weak password shows the form again, token kept. */
async function resetFromPage(ctx: Context, services: Services): Promise<void> {
  const fields = requestBody(ctx) as Record<string, unknown>;
  const token = typeof fields.token === 'string' ? fields.token.trim() : '';
  const password = typeof fields.password === 'string' ? fields.password : '';
  const again = async (problem: string) => {
    const target = await services.passwords.resetTarget(token);
    if (target?.disabled) sendPage(ctx, 403, accountDisabledPage());
    else if (target) sendPage(ctx, 400, resetFormPage({ token, username: target.username, email: target.email, problem }));
    else sendPage(ctx, 400, resetLinkInvalidPage());
  };
  if (password !== (typeof fields.confirm === 'string' ? fields.confirm : '')) return again('The two passwords do not match. Type the new password twice.');
  try {
    const user = await services.passwords.reset({ token, password }, requestInfo(ctx));
    sendPage(ctx, 200, passwordResetPage(user.username));
  } catch (error) {
    if (!(error instanceof HttpError) || error.status >= 500) throw error;
    ctx.set(error.headers);
    if (error.status === 429) sendPage(ctx, 429, tooManyPage(Number(error.headers['Retry-After'] ?? 60)));
    else if (error.code === 'account_disabled') sendPage(ctx, 403, accountDisabledPage());
    else if (error.code === 'invalid_input') await again(Object.values(error.errors ?? {})[0] ?? error.detail);
    else sendPage(ctx, 400, resetLinkInvalidPage());
  }
}
