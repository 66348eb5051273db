// The web pages: the start page, sign-in, registration, the account dashboard and sign-out.
// Server-rendered, no script; every POST passes requireCsrf first; every refusal is a page
// (pageRoute). Each route calls the capabilities' own logic (login, accounts, sessions, tokens)
// and renders: no rule of theirs is written again here.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { requestInfo } from '../core/request.js';
import { formBody, requireCsrf } from './csrf.js';
import { pageRoute, seeOther, sendWebPage, signInPath } from './layout.js';
import { startPage } from './pages.js';
import { browserSession, endBrowserSession } from './session.js';

export function webRoutes(router: Router, services: Services): void {
  router.get('/', pageRoute(services, async (ctx) => {
    if (await browserSession(ctx, services)) return seeOther(ctx, '/account');
    sendWebPage(ctx, 200, startPage(ctx, services));
  }));

  // Ends this browser's session (the row, every daemon's cache), forgets the cookie, back to /login.
  router.post('/logout', formBody, pageRoute(services, async (ctx: Context) => {
    const auth = await browserSession(ctx, services);
    if (!auth) return seeOther(ctx, signInPath());
    await requireCsrf(ctx, services);
    await services.sessions.logout(auth, requestInfo(ctx));
    endBrowserSession(ctx, services);
    seeOther(ctx, '/login?signed_out=1');
  }));
}
