// The accounts' request and response bodies (registration, verification, profile, deletion), as
// zod schemas: the daemon validates with the request schemas, and the OpenAPI document
// (server/reference/) is built from both. Daemon only: the CLI never loads zod.
import { z } from 'zod';
import { described, named, nullableText, requestDocs, responseDocs, timestamp } from '../core/api-docs.js';
import { currentPasswordField, emailField, newPasswordField, passwordField, tokenField, usernameField } from '../core/validation.js';
import { scopeSchema } from '../tokens/schemas.js';
import { codeField } from '../two-factor/schemas.js';

// ---- requests: the very schemas the daemon validates with ----------------------------------------

export const registerBody = z.object({ email: emailField, username: usernameField, password: newPasswordField });

export const verifyBody = z.object({ token: tokenField });

export const resendBody = z.object({ email: emailField });

export const updateProfileBody = z
  .object({
    username: usernameField.optional(),
    email: emailField.optional(),
    currentPassword: passwordField.optional(),
    code: codeField.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.username === undefined && body.email === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'Give a new username or email.' });
    }
    if (body.email !== undefined && body.currentPassword === undefined) {
      ctx.addIssue({ code: 'custom', path: ['currentPassword'], message: 'Changing the email needs your current password.' });
    }
  });

/** `DELETE /v1/me`: the password again, however fresh the session (re-authentication before deletion). */
export const deleteAccountBody = z.object({ currentPassword: currentPasswordField, code: codeField.optional() });

export type RegisterBody = z.infer<typeof registerBody>;

export type UpdateProfileBody = z.infer<typeof updateProfileBody>;

named(requestDocs, registerBody, 'RegisterBody', 'A new account.');
named(requestDocs, verifyBody, 'VerifyBody', 'An emailed verification (or email-change) token.');
named(requestDocs, resendBody, 'ResendBody', 'The address to send a new verification email to.');
// The refinement above, as the document states it.
named(requestDocs, updateProfileBody, 'UpdateProfileBody', 'A new username, a new email, or both; a new email needs `currentPassword`.', {
  anyOf: [{ required: ['username'] }, { required: ['email'] }],
  dependentRequired: { email: ['currentPassword'] },
});
named(requestDocs, deleteAccountBody, 'DeleteAccountBody', 'The current password, asked again however fresh the session.');

// ---- responses ------------------------------------------------------------------------------------

export const userSchema = named(
  responseDocs,
  z.strictObject({
    id: z.uuid(),
    username: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    pendingEmail: nullableText('A new address waiting for its confirmation link to be used; null unless an email change waits.'),
    twoFactorEnabled: described(responseDocs, z.boolean(), 'A second factor (TOTP, or a recovery code) is asked at login and before sensitive changes.'),
    createdAt: timestamp('When the account was created.'),
    updatedAt: timestamp('When the account last changed.'),
  }),
  'User',
  'An account. Passwords and their hashes never appear.',
);

export const userResponseSchema = named(responseDocs, z.strictObject({ user: userSchema }), 'UserResponse', 'The account.');

export const credentialSchema = named(
  responseDocs,
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('session') }),
    z.strictObject({
      type: z.literal('access_token'),
      id: z.uuid(),
      name: z.string(),
      scopes: z.array(scopeSchema),
      expiresAt: timestamp('When the token stops working.'),
    }),
  ]),
  'Credential',
  'What the request came with: a session (which may do everything its account may), or an access token and what it may do.',
);

export const meResponseSchema = named(responseDocs, z.strictObject({ user: userSchema, credential: credentialSchema }), 'MeResponse', 'The account, and the credential of the request: how another service learns what a bearer token may do.');

export const verifyResponseSchema = named(
  responseDocs,
  z.strictObject({
    user: userSchema,
    outcome: described(responseDocs, z.enum(['activated', 'email_changed', 'already_active']), 'What the token did: activated the account, confirmed a new email, or nothing (it was used already).'),
  }),
  'VerifyResponse',
  'The account after the token was used.',
);

export const acceptedSchema = named(
  responseDocs,
  z.strictObject({ status: z.literal('accepted'), detail: z.string() }),
  'Accepted',
  'The same answer whatever the email, so it does not tell whether an account has it.',
);
