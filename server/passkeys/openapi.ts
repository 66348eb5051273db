// The OpenAPI operations of passkeys; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  Passkeys: 'Passkeys (WebAuthn): added and used in the browser (the ceremonies are the sign-in and account pages\' script, with the CSRF checks of every form), listed and removed through the API too. The relying party id is PUBLIC_URL\'s host, the only origin accepted is PUBLIC_URL\'s; challenges work once, for 5 minutes; user verification is required; a passkey sign-in counts as both factors.',
};

const CSRF = 'Refused before anything changed (`csrf_refused`): not from PUBLIC_URL\'s origin, or without the token the page made for this path in this browser.';
const SIGN_IN = 'Not signed in (no cookie, or its session ended): to `/login?next=…`.';

const dashboardAction = (path: string, operationId: string, summary: string, description: string, form: string, pages: Record<number, string>): OperationSpec => ({
  method: 'post',
  path,
  operationId,
  tag: 'Passkeys',
  summary,
  description: `${description} Then a 303 to \`/account#passkeys\`, which says what was done. A refusal shows the dashboard again, with the error at this form.`,
  body: { form },
  success: { status: 303, description: `Done: to \`/account#passkeys\`. ${SIGN_IN}` },
  problems: [],
  pages: { 403: CSRF, ...pages },
});

export const operations: OperationSpec[] = [
  {
    method: 'get',
    path: '/v1/me/passkeys',
    operationId: 'listPasskeys',
    tag: 'Passkeys',
    summary: 'List the account\'s passkeys',
    description: 'Newest first: each one\'s id, name, when it was added and when it last signed in. Adding one happens in the browser, on `/account`.',
    auth: 'session',
    success: { status: 200, description: 'The passkeys.', json: 'PasskeyList' },
    problems: [],
  },
  {
    method: 'delete',
    path: '/v1/me/passkeys/{id}',
    operationId: 'removePasskey',
    tag: 'Passkeys',
    summary: 'Remove a passkey',
    description: 'With the password again (and the code when two-factor is on), however fresh the session. The passkey no longer signs in; a notice email goes out. The last passkey of an account without a usable password stays (`last_sign_in_method`). Another account\'s id is as unknown as a made-up one.',
    auth: 'session',
    parameters: [{ name: 'id', in: 'path', description: 'The passkey\'s id, from `GET /v1/me/passkeys`.', required: true, schema: { type: 'string' } }],
    body: { json: 'ReauthBody' },
    success: { status: 204, description: 'The passkey was removed.' },
    problems: ['not_found', 'wrong_password', 'otp_required', 'invalid_code', 'rate_limited', 'last_sign_in_method'],
  },
  {
    method: 'get',
    path: '/assets/passkeys.js',
    operationId: 'getPasskeyScript',
    tag: 'Passkeys',
    summary: 'The pages\' passkey script',
    description: 'The script the sign-in and account pages load (`script-src \'self\'`): @simplewebauthn/browser and the buttons\' ceremonies, served by the daemon itself. The pages work without it; only the passkey buttons need it.',
    success: { status: 200, description: 'The script (an ES module).', javascript: true },
    problems: [],
    database: false,
  },
  {
    method: 'post',
    path: '/login/passkey/options',
    operationId: 'passkeySignInOptions',
    tag: 'Passkeys',
    summary: 'Start a passkey sign-in',
    description: 'The sign-in page\'s script asks this for the options of `navigator.credentials.get()`: a new challenge (single use, 5 minutes), no account named (discoverable passkeys), user verification required. At most 600 an hour per address (each is a row until it expires).',
    body: { json: 'PasskeyOptionsRequest' },
    success: { status: 200, description: 'The options.', json: 'PasskeyOptions' },
    problems: ['csrf_refused', 'rate_limited'],
  },
  {
    method: 'post',
    path: '/login/passkey',
    operationId: 'passkeySignIn',
    tag: 'Passkeys',
    summary: 'Sign in with a passkey',
    description: 'The browser\'s answer: its challenge is used up, its origin and relying party id must be PUBLIC_URL\'s, the user verified, the signature good and the counter not gone backwards. Then the login flow as with a password (its throttles, the `login` event), without a code: the passkey counts as both factors. The session cookie is set as `POST /login` sets it; `location` is `next` (a path of this site) or `/account`.',
    body: { json: 'PasskeySignInRequest' },
    success: { status: 200, description: 'Signed in.', json: 'PasskeySignedIn' },
    problems: ['csrf_refused', 'passkey_refused', 'rate_limited', 'account_disabled'],
  },
  {
    method: 'post',
    path: '/account/passkeys/options',
    operationId: 'passkeyRegistrationOptions',
    tag: 'Passkeys',
    summary: 'Start adding a passkey',
    description: 'The account page\'s script asks this (signed in, within the last 10 minutes) for the options of `navigator.credentials.create()`: a new challenge for this account (single use, 5 minutes), its passkeys excluded, a discoverable credential and user verification required.',
    body: { json: 'PasskeyOptionsRequest' },
    success: { status: 200, description: 'The options.', json: 'PasskeyOptions' },
    problems: ['csrf_refused', 'unauthenticated', 'reauthentication_required'],
  },
  {
    method: 'post',
    path: '/account/passkeys',
    operationId: 'addPasskey',
    tag: 'Passkeys',
    summary: 'Add a passkey',
    description: 'The browser\'s answer to the registration options: its challenge (this account\'s) is used up, its origin and relying party id must be PUBLIC_URL\'s, the user verified. The passkey is stored (its public key, counter, transports and backup state), a `passkey_added` event written and a notice email sent.',
    body: { json: 'PasskeyRegisterRequest' },
    success: { status: 201, description: 'Added.', json: 'PasskeyAdded' },
    problems: ['csrf_refused', 'unauthenticated', 'reauthentication_required', 'passkey_refused'],
  },
  dashboardAction('/account/passkeys/confirm', 'confirmForPasskey', 'Sign in again, to add a passkey', 'The password (and the code when two-factor is on) through the login flow, as `POST /login`: a new session in this browser, the old one ended, so a passkey may be added for 10 minutes.', 'WebReauthForm', {
    401: 'The password is not right, or the code is missing: the dashboard again.',
    429: 'Too many attempts: the dashboard again, with how long to wait (`Retry-After`).',
  }),
  dashboardAction('/account/passkeys/rename', 'renamePasskey', 'Rename a passkey', 'A new name for one of the account\'s passkeys.', 'WebPasskeyRenameForm', {
    400: 'The name is not valid: the dashboard again, with the error at the field.',
    404: 'No passkey of yours has this id: the dashboard again.',
  }),
  dashboardAction('/account/passkeys/remove', 'removePasskeyForm', 'Remove a passkey', 'As `DELETE /v1/me/passkeys/{id}`: the password again (and the code when two-factor is on).', 'WebPasskeyRemoveForm', {
    400: 'A field is missing: the dashboard again.',
    401: 'The code is missing: the dashboard again.',
    404: 'No passkey of yours has this id: the dashboard again.',
    409: 'It is the account\'s last way in: the dashboard again.',
    429: 'Too many attempts: the dashboard again, with how long to wait (`Retry-After`).',
  }),
];
