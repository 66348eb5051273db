// The pages a problem's `type` URI opens (/problems/<code>): HTML for a person, JSON when asked.
import type Router from '@koa/router';
import { HttpError, PROBLEM_TYPES } from '../core/errors.js';
import { sendPage } from '../core/page.js';
import { problemPage } from './pages.js';
import type { ErrorCode } from '../contract/api.js';

export function problemRoutes(router: Router): void {
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
