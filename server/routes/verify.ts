import type Router from '@koa/router';
import { jsonBody } from './body.js';
import { HttpError } from '../errors.js';
import { PAGE_CSP, activatedPage, alreadyActivePage, emailChangedPage, invalidTokenPage, tooManyPage } from '../pages.js';
import { requestBody, type Services } from './context.js';

export function verifyRoutes(router: Router, services: Services): void {
  // The link from the email: answers a page, never JSON, whatever happens.
  router.get('/v1/verify', async (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set({ 'Content-Security-Policy': PAGE_CSP, 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' });
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    try {
      const outcome = await services.accounts.verify({ token }, ctx.ip);
      ctx.status = 200;
      ctx.body =
        outcome.kind === 'activated'
          ? activatedPage(outcome.user.username)
          : outcome.kind === 'email_changed'
            ? emailChangedPage(outcome.user.email)
            : alreadyActivePage();
    } catch (error) {
      if (!(error instanceof HttpError) || error.status >= 500) throw error;
      ctx.status = error.status === 429 ? 429 : 400;
      ctx.set(error.headers);
      ctx.body = error.status === 429 ? tooManyPage(error.headers['Retry-After'] ?? '60') : invalidTokenPage(error.code === 'expired_token');
    }
  });

  router.post('/v1/verify', jsonBody, async (ctx) => {
    const { user } = await services.accounts.verify(requestBody(ctx), ctx.ip);
    ctx.body = { user };
  });

  router.post('/v1/verify/resend', jsonBody, async (ctx) => {
    await services.accounts.resend(requestBody(ctx), ctx.ip);
    ctx.status = 202;
    ctx.body = { status: 'accepted', detail: 'If that account exists and is not verified yet, a new email is on its way.' };
  });
}
