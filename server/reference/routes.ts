// GET /v1/openapi.json: the API's OpenAPI 3.1 document, the committed server/openapi.json (built
// by server/openapi.ts from the schemas the daemon validates with; the build inlines it). State:
// none; the same document for every daemon of a release, so a client may cache it a few minutes.
import type Router from '@koa/router';
import document from './openapi.json' with { type: 'json' };

const BODY = JSON.stringify(document);

export function openApiRoutes(router: Router): void {
  router.get('/v1/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = BODY;
  });
}
