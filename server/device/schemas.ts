// The device flow's bodies (RFC 8628), as zod schemas for the OpenAPI document. The endpoints read
// their fields as OAuth does (server/device/authorizations.ts: an unknown client is invalid_client,
// a missing field invalid_request), so these document the bodies rather than validate them.
import { z } from 'zod';
import { described, named, requestDocs, responseDocs } from '../core/api-docs.js';
import { DEVICE_CLIENT_ID, DEVICE_GRANT_TYPE, USER_CODE_ALPHABET } from '../contract/device.js';
import { DEVICE_TOKEN_PREFIX, SESSION_TOKEN_PREFIX } from '../contract/api.js';
import { userSchema } from '../accounts/schemas.js';

const clientId = described(requestDocs, z.literal(DEVICE_CLIENT_ID), `The client: \`${DEVICE_CLIENT_ID}\` (the CLI), the only one this daemon knows; anything else answers \`invalid_client\`.`);

export const deviceCodeBody = named(requestDocs, z.object({ client_id: clientId }), 'DeviceCodeBody', 'A device authorization request (RFC 8628 §3.1), as JSON or as a form.');

export const deviceTokenBody = named(
  requestDocs,
  z.object({
    grant_type: described(requestDocs, z.literal(DEVICE_GRANT_TYPE), 'The device grant.'),
    device_code: described(requestDocs, z.string(), 'The `device_code` of `POST /v1/device/code`.'),
    client_id: clientId,
    device_token: described(requestDocs, z.string().optional(), `The device token (\`${DEVICE_TOKEN_PREFIX}…\`) an earlier login of this account answered, as at \`POST /v1/sessions\`; optional, never an error when unknown.`),
  }),
  'DeviceTokenBody',
  'A device access token request (RFC 8628 §3.4), as JSON or as a form; poll no more often than `interval` seconds.',
);

const seconds = (description: string) => described(responseDocs, z.int().positive(), description);

export const deviceCodeResponseSchema = named(
  responseDocs,
  z.strictObject({
    device_code: described(responseDocs, z.string().regex(/^[A-Za-z0-9_-]{43}$/), 'The device code (256 random bits), for polling `POST /v1/device/token`; never shown to the user.'),
    user_code: described(responseDocs, z.string().regex(new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`)), `The code the user types on the approval page: 8 letters of \`${USER_CODE_ALPHABET}\`, shown as \`XXXX-XXXX\`; compared without regard to case or the dash.`),
    verification_uri: described(responseDocs, z.url(), 'The approval page: `PUBLIC_URL/device`.'),
    verification_uri_complete: described(responseDocs, z.url(), 'The approval page with the code filled in: `PUBLIC_URL/device?user_code=XXXX-XXXX`.'),
    expires_in: seconds('Seconds until the codes expire (900).'),
    interval: seconds('Seconds to wait between polls (5).'),
  }),
  'DeviceCodeResponse',
  'A device authorization (RFC 8628 §3.2).',
);

export const deviceTokenResponseSchema = named(
  responseDocs,
  z.strictObject({
    access_token: described(responseDocs, z.string().regex(new RegExp(`^${SESSION_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`)), 'A session token, as a password login answers: listed with the sessions, revocable, valid 30 days. Send it as `Authorization: Bearer <token>`.'),
    token_type: z.literal('Bearer'),
    expires_in: seconds('Seconds until the session ends (30 days) unless revoked sooner.'),
    user: userSchema,
    device_token: described(responseDocs, z.string().regex(new RegExp(`^${DEVICE_TOKEN_PREFIX}`)), 'As a password login\'s `deviceToken`: keep it per server and send it with later logins.'),
  }),
  'DeviceTokenResponse',
  'The approved request, exchanged once for a session.',
);

export const deviceErrorSchema = named(
  responseDocs,
  z.strictObject({
    error: described(
      responseDocs,
      z.enum(['authorization_pending', 'slow_down', 'access_denied', 'expired_token', 'invalid_grant', 'invalid_client', 'invalid_request', 'unsupported_grant_type', 'rate_limited']),
      'The OAuth error code (RFC 6749 §5.2, RFC 8628 §3.5).',
    ),
    error_description: described(responseDocs, z.string(), 'What happened, for a person.'),
  }),
  'DeviceError',
  'An OAuth error (these endpoints answer OAuth errors, not problem+json).',
);

named(
  requestDocs,
  z.object({
    csrf: described(requestDocs, z.string(), 'The form\'s CSRF token, from the hidden field of the page that showed the form.'),
    user_code: described(requestDocs, z.string(), 'The code the terminal shows; case, spaces and the dash do not count.'),
    action: described(requestDocs, z.enum(['approve', 'deny']).optional(), 'Left out: show the request; `approve` or `deny`: decide it.'),
  }),
  'DeviceDecisionForm',
  'The /device page\'s form.',
);
