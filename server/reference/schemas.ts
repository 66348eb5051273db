// The HTTP API's bodies as zod schemas, for its OpenAPI document (server/openapi.ts): the request
// bodies are the very schemas the daemon validates with (server/schemas.ts), described here; the
// response bodies are defined here, and test/api-types.test.ts holds the CLI's API types
// (server/contract/api.ts) equal to them at compile time. Daemon only; nothing here runs per request.
import { z } from 'zod';
import {
  changePasswordBody,
  deleteAccountBody,
  deviceTokenField,
  emailField,
  forgotBody,
  loginBody,
  newPasswordField,
  passwordField,
  registerBody,
  resendBody,
  resetBody,
  tokenField,
  updateProfileBody,
  usernameField,
  verifyBody,
} from '../core/validation.js';
import { DEVICE_TOKEN_PREFIX, ERROR_CODES, SESSION_TOKEN_PREFIX } from '../contract/api.js';

/** What the document says of a schema: `id` makes it a named component, `description` documents it. */
export interface SchemaDoc {
  id?: string;
  description?: string;
}

/** Request bodies (converted as zod reads its input). */
export const requestDocs = z.registry<SchemaDoc>();
/** Response bodies (converted as the daemon writes them). */
export const responseDocs = z.registry<SchemaDoc>();

const named = <T extends z.ZodType>(registry: typeof requestDocs, schema: T, id: string, description: string): T => {
  registry.add(schema, { id, description });
  return schema;
};
const described = <T extends z.ZodType>(registry: typeof requestDocs, schema: T, description: string): T => {
  registry.add(schema, { description });
  return schema;
};

// ---- requests: the daemon's own schemas ---------------------------------------------------------

described(requestDocs, emailField, 'An email address; trimmed, compared without regard to case, at most 254 characters.');
described(requestDocs, usernameField, '3–32 ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit; unique without regard to case, shown as typed.');
described(requestDocs, newPasswordField, 'A new password: 8–256 characters, not common or weak (a strength estimator decides), not containing the username or the email\'s local part. Bytes past bcrypt\'s 72 still count.');
described(requestDocs, passwordField, 'The password, as typed (nothing is trimmed).');
described(requestDocs, tokenField, 'The token from the email (43 letters and digits); surrounding spaces are ignored.');
described(requestDocs, changePasswordBody.shape.currentPassword, 'The current password; a wrong one counts as a failed login.');
described(requestDocs, changePasswordBody.shape.newPassword, 'The new password: the rules of `password` at registration, and not the same as the current one.');
described(requestDocs, deleteAccountBody.shape.currentPassword, 'The current password; a wrong one counts as a failed login.');
described(requestDocs, deviceTokenField, `The device token (\`${DEVICE_TOKEN_PREFIX}…\`) an earlier login of this account answered; optional, never an error when unknown.`);

named(requestDocs, registerBody, 'RegisterBody', 'A new account.');
named(requestDocs, loginBody, 'LoginBody', 'Credentials for a new session.');
named(requestDocs, verifyBody, 'VerifyBody', 'An emailed verification (or email-change) token.');
named(requestDocs, resendBody, 'ResendBody', 'The address to send a new verification email to.');
named(requestDocs, updateProfileBody, 'UpdateProfileBody', 'A new username, a new email, or both; a new email needs `currentPassword`.');
named(requestDocs, forgotBody, 'ForgotPasswordBody', 'The address to send a password reset email to.');
named(requestDocs, resetBody, 'ResetPasswordBody', 'An emailed reset token and the new password.');
named(requestDocs, changePasswordBody, 'ChangePasswordBody', 'The current password and the new one.');
named(requestDocs, deleteAccountBody, 'DeleteAccountBody', 'The current password, asked again however fresh the session.');

/** The reset page's form: the new password typed twice (a mismatch shows the form again). */
export const resetPasswordForm = named(
  requestDocs,
  resetBody.extend({ confirm: described(requestDocs, z.string(), 'The new password again; it must match `password`.') }),
  'ResetPasswordForm',
  'The reset page\'s form, as a browser posts it.',
);

// ---- responses ----------------------------------------------------------------------------------

const timestamp = (description: string) => described(responseDocs, z.iso.datetime(), description);
const nullableText = (description: string) => described(responseDocs, z.string().nullable(), description);
const count = (description: string) => described(responseDocs, z.int().nonnegative(), description);

export const healthSchema = named(responseDocs, z.strictObject({ status: z.literal('ok') }), 'Health', 'The daemon and its database answer.');

export const userSchema = named(
  responseDocs,
  z.strictObject({
    id: z.uuid(),
    username: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    pendingEmail: nullableText('A new address waiting for its confirmation link to be used; null unless an email change waits.'),
    createdAt: timestamp('When the account was created.'),
    updatedAt: timestamp('When the account last changed.'),
  }),
  'User',
  'An account. Passwords and their hashes never appear.',
);

export const userResponseSchema = named(responseDocs, z.strictObject({ user: userSchema }), 'UserResponse', 'The account.');

export const verifyResponseSchema = named(
  responseDocs,
  z.strictObject({
    user: userSchema,
    outcome: described(responseDocs, z.enum(['activated', 'email_changed', 'already_active']), 'What the token did: activated the account, confirmed a new email, or nothing (it was used already).'),
  }),
  'VerifyResponse',
  'The account after the token was used.',
);

export const passwordChangeResponseSchema = named(
  responseDocs,
  z.strictObject({ user: userSchema, revokedSessions: count('How many other sessions of the account ended.') }),
  'PasswordChangeResponse',
  'The account, and how many of its other sessions ended; the calling session stays.',
);

export const resetTokenInfoSchema = named(
  responseDocs,
  z.strictObject({ username: z.string(), email: z.string() }),
  'ResetTokenInfo',
  'Whose account a usable reset token is for (so a client can check the new password against them). Changes nothing.',
);

export const acceptedSchema = named(
  responseDocs,
  z.strictObject({ status: z.literal('accepted'), detail: z.string() }),
  'Accepted',
  'The same answer whatever the email, so it does not tell whether an account has it.',
);

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

export const errorCodeSchema = named(responseDocs, z.enum(ERROR_CODES), 'ErrorCode', 'A stable problem code; `/problems/{code}` says what it means.');

export const problemSchema = named(
  responseDocs,
  z.strictObject({
    type: described(responseDocs, z.string().regex(/^\/problems\/[a-z_]+$/), 'The problem type, `/problems/{code}`: a page saying what the code means.'),
    title: described(responseDocs, z.string(), 'The title of the problem type, the same every time.'),
    status: z.int().min(400).max(599),
    detail: described(responseDocs, z.string(), 'What happened this time, and the way on.'),
    code: errorCodeSchema,
    errors: described(responseDocs, z.record(z.string(), z.string()).optional(), 'Field name to what is wrong with it (`body` when the body as a whole is at fault).'),
  }),
  'Problem',
  'RFC 9457 problem details, with a stable `code`.',
);

export const problemTypeSchema = named(
  responseDocs,
  z.strictObject({
    type: z.string().regex(/^\/problems\/[a-z_]+$/),
    title: z.string(),
    status: z.int().min(400).max(599),
    code: errorCodeSchema,
    description: described(responseDocs, z.string(), 'What the problem means and what to do.'),
  }),
  'ProblemType',
  'A problem type, as `/problems/{code}` describes it.',
);

export const sessionInfoSchema = named(
  responseDocs,
  z.strictObject({
    id: described(responseDocs, z.uuid(), 'A public id for revoking the session, never its token.'),
    current: described(responseDocs, z.boolean(), 'True for the session that asks.'),
    createdAt: timestamp('When the session was created (the login).'),
    lastUsedAt: timestamp('When the session was last used, written at most once a minute.'),
    expiresAt: timestamp('When the session ends unless revoked sooner.'),
    address: nullableText('The client address the session was created from.'),
    userAgent: nullableText('The User-Agent the session was created with.'),
  }),
  'SessionInfo',
  'One live session of the account.',
);

export const sessionListSchema = named(
  responseDocs,
  z.strictObject({ sessions: z.array(sessionInfoSchema) }),
  'SessionList',
  'The account\'s live sessions, newest first.',
);

export const revokedSchema = named(responseDocs, z.strictObject({ revoked: count('How many sessions ended.') }), 'RevokedSessions', 'How many sessions ended.');

export const accountEventTypeSchema = named(
  responseDocs,
  z.enum(['login', 'login_failed', 'logout', 'password_changed', 'password_reset', 'email_changed', 'session_revoked']),
  'AccountEventType',
  'What happened.',
);

export const accountEventSchema = named(
  responseDocs,
  z.strictObject({
    type: accountEventTypeSchema,
    at: timestamp('When it happened.'),
    address: nullableText('The client address of the request.'),
    userAgent: nullableText('The User-Agent of the request.'),
  }),
  'AccountEvent',
  'A security event of the account.',
);

export const eventListSchema = named(
  responseDocs,
  z.strictObject({ events: z.array(accountEventSchema) }),
  'EventList',
  'The account\'s security events of the last 90 days, newest first.',
);

/** The document itself: open by nature (OpenAPI allows `x-` extensions anywhere). */
export const openApiDocumentSchema = named(
  responseDocs,
  z.looseObject({
    openapi: z.string().regex(/^3\.1\.\d+$/),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.looseObject({})),
  }),
  'OpenApiDocument',
  'An OpenAPI 3.1 document.',
);
