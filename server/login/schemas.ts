// Logging in: the request body and the new session's answer, as zod schemas (validation and the
// OpenAPI document).
import { z } from 'zod';
import { described, named, requestDocs, responseDocs, timestamp } from '../core/api-docs.js';
import { emailField, field, passwordField } from '../core/validation.js';
import { DEVICE_TOKEN_PREFIX, SESSION_TOKEN_PREFIX } from '../contract/api.js';
import { FIELD_LIMITS, characterCount } from '../contract/rules.js';
import { userSchema } from '../accounts/schemas.js';
import { codeField } from '../two-factor/schemas.js';

// ---- requests: the very schemas the daemon validates with ----------------------------------------

/** A device token from an earlier login (see SECURITY.md, "Lockout"): optional, never an error when unknown. */
export const deviceTokenField = field((value) => (characterCount(value) > FIELD_LIMITS.deviceToken.maxLength ? 'Device token is not valid.' : undefined), 'Device token');

export const loginBody = z.object({ email: emailField, password: passwordField, code: codeField.optional(), deviceToken: deviceTokenField.optional() });

export type LoginBody = z.infer<typeof loginBody>;

described(requestDocs, deviceTokenField, `The device token (\`${DEVICE_TOKEN_PREFIX}…\`) an earlier login of this account answered; optional, never an error when unknown.`, FIELD_LIMITS.deviceToken);
named(requestDocs, loginBody, 'LoginBody', 'Credentials for a new session.');

// ---- responses ------------------------------------------------------------------------------------

export const sessionResponseSchema = named(
  responseDocs,
  z.strictObject({
    token: described(responseDocs, z.string().regex(new RegExp(`^${SESSION_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`)), 'The session token (256 random bits): send it as `Authorization: Bearer <token>`, never in a URL.'),
    expiresAt: timestamp('When the session ends (30 days after login) unless revoked sooner.'),
    user: userSchema,
    deviceToken: described(responseDocs, z.string().regex(new RegExp(`^${DEVICE_TOKEN_PREFIX}`)), 'Keep it per server and send it with later logins: a known device is not held by an account lock that other addresses caused.'),
  }),
  'SessionResponse',
  'A new session.',
);
