// The OpenAPI operations of the device flow; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  'Device login': 'Logging a terminal in through the browser (RFC 8628, the device authorization grant): `taskmaster login --web`.',
};

const malformed = 'a body that is not JSON or a form, or is not an object: `invalid_request`';

export const operations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/device/code',
    operationId: 'startDeviceLogin',
    tag: 'Device login',
    summary: 'Start a browser login for a terminal',
    description:
      'A device code (256 bits, kept only as its SHA-256) for polling, and a user code for the person to type at `verification_uri` (built from `PUBLIC_URL`, never from the request\'s Host), both valid 15 minutes and good once. Poll `POST /v1/device/token` every `interval` seconds. JSON or a form; refusals are OAuth error bodies. At most 60 requests an hour per address.',
    body: { json: 'DeviceCodeBody', form: 'DeviceCodeBody' },
    success: { status: 200, description: 'The codes and where to approve them.', json: 'DeviceCodeResponse' },
    problems: [],
    oauthErrors: [
      { status: 400, codes: ['invalid_client', 'invalid_request'], description: `An unknown \`client_id\`: \`invalid_client\`; ${malformed}.` },
      { status: 429, codes: ['rate_limited'], description: 'Too many device codes asked from this address; `Retry-After` says when to try again.', retryAfter: true },
    ],
  },
  {
    method: 'post',
    path: '/v1/device/token',
    operationId: 'pollDeviceLogin',
    tag: 'Device login',
    summary: 'Poll for the browser\'s approval',
    description:
      'While the code waits: `authorization_pending`; polled sooner than `interval` seconds after the last poll: `slow_down`, and the interval grows by 5 seconds for every later poll (the first poll is never too soon); denied in the browser: `access_denied`; past its 15 minutes: `expired_token`. Once approved, the first poll gets a session like a password login\'s (listed with the sessions, revocable) and a `login` event is recorded; the device code is then used up (`invalid_grant`).',
    body: { json: 'DeviceTokenBody', form: 'DeviceTokenBody' },
    success: { status: 200, description: 'The new session.', json: 'DeviceTokenResponse' },
    problems: [],
    oauthErrors: [
      {
        status: 400,
        codes: ['authorization_pending', 'slow_down', 'access_denied', 'expired_token', 'invalid_grant', 'invalid_client', 'invalid_request', 'unsupported_grant_type'],
        description: `Not (yet) a session: the error says why (RFC 8628 §3.5); an unknown or used device code: \`invalid_grant\`; ${malformed}.`,
      },
    ],
  },
  {
    method: 'get',
    path: '/device',
    operationId: 'getDevicePage',
    tag: 'Device login',
    summary: 'The approval page: type the code',
    description: 'Signed in (the browser session cookie): a form for the code the terminal shows, prefilled from `user_code` (the link `verification_uri_complete`). Nothing is looked up yet. Signed out: a 303 to `/login`, which comes back here with the code.',
    parameters: [{ name: 'user_code', in: 'query', description: 'The code the terminal shows (`XXXX-XXXX`), to prefill the form.', required: false, schema: { type: 'string' } }],
    success: { status: 200, description: 'The code entry form.', html: true },
    problems: [],
    redirect: 'Signed out: to `/login?next=/device…`, keeping the code.',
  },
  {
    method: 'post',
    path: '/device',
    operationId: 'decideDeviceLogin',
    tag: 'Device login',
    summary: 'The approval page: see the request, approve or deny it',
    description:
      'The code alone: the page shows what asks for access (the client, the address and program it asked from, when) and says that approving gives that terminal full access to the account, with Approve and Deny. With `action=approve` the terminal\'s next poll gets a session (a `device_approved` event is recorded); with `action=deny` it hears `access_denied`. Wrong codes are counted before they are looked up: at most 20 per browser session and 100 an hour per address are checked at all (429 then). A CSRF-checked form of a signed-in browser; signed out, a 303 to `/login`.',
    body: { form: 'DeviceDecisionForm' },
    success: { status: 200, description: 'The request and the choice; or the outcome of the decision.', html: true },
    problems: [],
    redirect: 'Signed out: to `/login?next=/device…`, keeping the code.',
    pages: {
      400: 'The code is unknown, expired, used or decided already: the form again, saying so.',
      403: 'The form was refused before anything changed (`csrf_refused`).',
      429: 'Too many codes that did not work from this browser session or address: nothing is checked.',
    },
  },
];
