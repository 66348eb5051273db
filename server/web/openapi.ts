// The OpenAPI operations of the web pages; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  'Web pages': 'The pages a browser signs in with: server-rendered HTML, no script, nothing loaded from elsewhere. The browser session is a cookie (`HttpOnly`, `SameSite=Lax`; `Secure` and `__Host-` when PUBLIC_URL is https) holding a session token like any other; every form carries a CSRF token and must come from PUBLIC_URL\'s origin.',
};

const CSRF_PAGE = 'The form was refused before anything changed (`csrf_refused`): it came from another origin, from a page that sent `Origin: null` or no Origin at all, or without a CSRF token made for it in this browser.';

export const operations: OperationSpec[] = [
  {
    method: 'get',
    path: '/',
    operationId: 'getStartPage',
    tag: 'Web pages',
    summary: 'The start page',
    description: 'Signed out: links to sign in and to create an account. Signed in (the session cookie): a 303 to `/account`.',
    success: { status: 200, description: 'The start page.', html: true },
    problems: [],
    redirect: 'Signed in: to `/account`.',
  },
  {
    method: 'post',
    path: '/logout',
    operationId: 'signOut',
    tag: 'Web pages',
    summary: 'Sign out',
    description: 'The sign-out button of every signed-in page: ends this browser\'s session (as `DELETE /v1/sessions/current` does) and forgets its cookie, then a 303 to `/login`. Without a live session, a 303 to `/login` and nothing else.',
    body: { form: 'WebForm' },
    success: { status: 303, description: 'Signed out (or already): to `/login`.' },
    problems: [],
    pages: { 403: CSRF_PAGE },
  },
];
