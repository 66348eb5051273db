// The reference: GET /v1/openapi.json, the API's OpenAPI 3.1 document (the committed
// server/reference/openapi.json, built by document.ts from the capabilities' schemas and operations;
// the build inlines it), and the /problems/<code> pages. State: none; the same document for every
// daemon of a release, so a client may cache it a few minutes.
import type Router from '@koa/router';
import type { Services } from '../capabilities.js';
import document from './openapi.json' with { type: 'json' };
import { HttpError, PROBLEM_TYPES } from '../core/errors.js';
import { sendPage } from '../core/page.js';
import { problemPage } from './pages.js';
import type { ErrorCode } from '../contract/api.js';

export function referenceRoutes(router: Router, services: Pick<Services, 'publicUrl'>): void {
  // The committed document names this daemon's PUBLIC_URL as its server: made once, on first use
  // (the URL is known only once the socket is bound when port 0 was asked).
  let body: string | undefined;
  router.get('/v1/openapi.json', (ctx) => {
    body ??= JSON.stringify({ ...document, servers: [{ url: services.publicUrl(), description: 'This daemon (PUBLIC_URL).' }] });
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = body;
  });

  // The pages a problem's `type` URI opens (/problems/<code>): HTML for a person, JSON when asked.
  router.get('/problems/:code', (ctx) => {
    const code = ctx.params.code ?? '';
    if (!Object.hasOwn(PROBLEM_TYPES, code)) throw new HttpError(404, 'not_found', 'No problem type has this code.');
    const problem = { type: `/problems/${code}`, ...PROBLEM_TYPES[code as ErrorCode], code };
    ctx.vary('Accept');
    const wanted = ctx.accepts('html', 'json', 'application/problem+json');
    if (wanted === 'json' || wanted === 'application/problem+json') {
      ctx.body = { type: problem.type, title: problem.title, status: problem.status, code, description: problem.description };
      return;
    }
    sendPage(ctx, 200, problemPage(problem));
  });
}
