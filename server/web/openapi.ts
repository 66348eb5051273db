// The OpenAPI operations of the web pages; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  'Web pages': 'The pages a browser signs in with: server-rendered HTML, no script, nothing loaded from elsewhere. The browser session is a cookie (`HttpOnly`, `SameSite=Lax`; `Secure` and `__Host-` when PUBLIC_URL is https) holding a session token like any other; every form carries a CSRF token and must come from PUBLIC_URL\'s origin. Every refusal is a page.',
};

const CSRF = 'The form was refused before anything changed (`csrf_refused`): it came from another origin, from a page that sent `Origin: null` or no Origin at all, or without a CSRF token made for it in this browser.';
const THROTTLED = 'Too many attempts: the form again, with how long to wait (`Retry-After`).';
const SIGN_IN = 'Not signed in (no cookie, or its session ended): to `/login?next=…`.';

const page = (spec: Omit<OperationSpec, 'tag' | 'problems'> & { problems?: OperationSpec['problems'] }): OperationSpec => ({ tag: 'Web pages', problems: [], ...spec });

const dashboardAction = (path: string, operationId: string, summary: string, description: string, form: string, pages: Record<number, string>): OperationSpec =>
  page({
    method: 'post',
    path,
    operationId,
    summary,
    description: `${description} Then a 303 to \`/account\`, which says what was done. A refusal shows the dashboard again, with the error at this form.`,
    body: { form },
    success: { status: 303, description: `Done: to \`/account\`. ${SIGN_IN}` },
    pages: { 403: CSRF, ...pages },
  });

export const operations: OperationSpec[] = [
  page({
    method: 'get',
    path: '/',
    operationId: 'getStartPage',
    summary: 'The start page',
    description: 'Signed out: links to sign in and to create an account. Signed in (the session cookie): a 303 to `/account`.',
    success: { status: 200, description: 'The start page.', html: true },
    redirect: 'Signed in: to `/account`.',
  }),
  page({
    method: 'get',
    path: '/login',
    operationId: 'getSignInPage',
    summary: 'The sign-in page',
    description: 'Email and password, with links to `/register` and `/password/forgot`. `next` (a path of this site only) is where a sign-in goes afterwards.',
    parameters: [{ name: 'next', in: 'query', description: 'A path of this site to go to once signed in; anything else is ignored.', required: false, schema: { type: 'string' } }],
    success: { status: 200, description: 'The sign-in form.', html: true },
    redirect: 'Signed in already: to `next`, or `/account`.',
  }),
  page({
    method: 'post',
    path: '/login',
    operationId: 'signIn',
    summary: 'Sign in',
    description: 'The same login flow as `POST /v1/sessions` (its throttles and answers): with two-factor on, the right password answers the code step (a page), whose form comes back here with `challenge` and `code` as `POST /v1/sessions/otp` takes them. Signed in: the session cookie is set and a 303 goes to `next` (a path of this site) or `/account`.',
    body: { form: 'WebLoginForm' },
    success: { status: 303, description: 'Signed in: the session cookie is set; to `next` or `/account`.' },
    pages: {
      200: 'The code step: two-factor is on and the password was right.',
      400: 'A field is missing or not valid: the form again, with the error at the field.',
      401: 'The email or the password is not right (the same for an unknown email), or the code step took too long: the form again.',
      403: `${CSRF} Or: the email is not confirmed yet (with a button for a new email); or a wrong code (the code step again).`,
      429: THROTTLED,
    },
  }),
  page({
    method: 'post',
    path: '/login/resend',
    operationId: 'resendConfirmationFromPage',
    summary: 'Send the confirmation email again',
    description: 'The button of the "confirm your email first" page: as `POST /v1/verify/resend`, the same answer whatever the address.',
    body: { form: 'WebEmailForm' },
    success: { status: 200, description: '"Check your email".', html: true },
    pages: { 400: 'The address is not valid.', 403: CSRF, 429: THROTTLED },
  }),
  page({
    method: 'get',
    path: '/register',
    operationId: 'getRegisterPage',
    summary: 'The registration page',
    description: 'Email, username and the password twice, with the rules shown. Signed in: a 303 to `/account`.',
    success: { status: 200, description: 'The registration form.', html: true },
    redirect: 'Signed in: to `/account`.',
  }),
  page({
    method: 'post',
    path: '/register',
    operationId: 'registerFromPage',
    summary: 'Create an account',
    description: 'The same rules and answers as `POST /v1/users`, after the page\'s own check that the password was typed the same twice. Then "check your email": the account signs in once the emailed link confirms the address.',
    body: { form: 'WebRegisterForm' },
    success: { status: 201, description: 'Created: "check your email".', html: true },
    pages: { 400: 'A field is not valid, or the passwords differ: the form again, with the error at the field.', 403: CSRF, 409: 'The username or the email is taken: the form again.', 429: THROTTLED },
  }),
  page({
    method: 'get',
    path: '/password/forgot',
    operationId: 'getForgotPasswordPage',
    summary: 'The forgotten-password page',
    description: 'The email of the account, to send a reset link to (`POST /v1/password/forgot`); the link opens `/v1/password/reset`.',
    success: { status: 200, description: 'The form.', html: true },
  }),
  page({
    method: 'post',
    path: '/password/forgot',
    operationId: 'forgotPasswordFromPage',
    summary: 'Ask for a reset link',
    description: 'As `POST /v1/password/forgot`: the same answer whatever the address.',
    body: { form: 'WebEmailForm' },
    success: { status: 200, description: '"Check your email".', html: true },
    pages: { 400: 'The address is not valid: the form again.', 403: CSRF, 429: THROTTLED },
  }),
  page({
    method: 'get',
    path: '/account',
    operationId: 'getAccountPage',
    summary: 'The account dashboard',
    description: 'The profile (change the username; change the email with the password, and the code when two-factor is on), the two-factor state, the sessions (end one, or all others) and the access tokens (revoke). Every action is a form with its CSRF token.',
    success: { status: 200, description: 'The dashboard.', html: true },
    redirect: SIGN_IN,
  }),
  dashboardAction('/account/username', 'changeUsernameFromPage', 'Change the username', 'As `PATCH /v1/me` with `username`.', 'WebUsernameForm', {
    400: 'The username is not valid.',
    409: 'The username is taken.',
  }),
  dashboardAction('/account/email', 'changeEmailFromPage', 'Change the email', 'As `PATCH /v1/me` with `email`, `currentPassword` (and `code`): the new address gets a link, the other sessions end.', 'WebEmailChangeForm', {
    400: 'The email is not valid, or the password is missing.',
    401: 'Two-factor is on and the code is missing.',
    403: `${CSRF} Or: the current password (or the code) is not right, which counts as a failed login.`,
    409: 'Another account uses this email.',
    429: THROTTLED,
  }),
  dashboardAction('/account/sessions/end', 'endSessionFromPage', 'End a session', 'As `DELETE /v1/sessions/{id}`: that device is signed out at once, on every daemon.', 'WebIdForm', { 404: 'No session of this account has this id (it ended already).' }),
  dashboardAction('/account/sessions/end-others', 'endOtherSessionsFromPage', 'End all other sessions', 'As `DELETE /v1/sessions?scope=others`: every session of the account but this browser\'s ends.', 'WebForm', {}),
  dashboardAction('/account/tokens/revoke', 'revokeAccessTokenFromPage', 'Revoke an access token', 'As `DELETE /v1/tokens/{id}`: the token is refused on its next request, on every daemon.', 'WebIdForm', { 404: 'No access token of this account has this id (revoked already).' }),
  page({
    method: 'post',
    path: '/logout',
    operationId: 'signOut',
    summary: 'Sign out',
    description: 'The sign-out button of every signed-in page: ends this browser\'s session (as `DELETE /v1/sessions/current` does) and forgets its cookie, then a 303 to `/login`. Without a live session, a 303 to `/login` and nothing else.',
    body: { form: 'WebForm' },
    success: { status: 303, description: 'Signed out (or already): to `/login`.' },
    pages: { 403: CSRF },
  }),
];
