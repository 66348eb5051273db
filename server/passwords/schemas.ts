// The password journeys' request and response bodies (forgot, reset, change), as zod schemas: the
// daemon validates with the request schemas, and the OpenAPI document is built from both.
import { z } from 'zod';
import { count, described, named, requestDocs, responseDocs } from '../core/api-docs.js';
import { currentPasswordField, emailField, field, newPasswordField, tokenField } from '../core/validation.js';
import { FIELD_LIMITS, passwordBasicProblem } from '../contract/rules.js';
import { userSchema } from '../accounts/schemas.js';
import { codeField } from '../two-factor/schemas.js';

// ---- requests: the very schemas the daemon validates with ----------------------------------------

export const forgotBody = z.object({ email: emailField });

export const resetBody = z.object({ token: tokenField, password: newPasswordField });

export const changePasswordBody = z.object({
  currentPassword: currentPasswordField,
  code: codeField.optional(),
  newPassword: field((value) => passwordBasicProblem(value), 'New password'),
});

described(requestDocs, changePasswordBody.shape.newPassword, 'The new password: the rules of `password` at registration, and not the same as the current one.', FIELD_LIMITS.newPassword);
named(requestDocs, forgotBody, 'ForgotPasswordBody', 'The address to send a password reset email to.');
named(requestDocs, resetBody, 'ResetPasswordBody', 'An emailed reset token and the new password.');
named(requestDocs, changePasswordBody, 'ChangePasswordBody', 'The current password and the new one.');

/** The reset page's form: the new password typed twice (a mismatch shows the form again). */
export const resetPasswordForm = named(
  requestDocs,
  resetBody.extend({ confirm: described(requestDocs, z.string(), 'The new password again; it must match `password`.') }),
  'ResetPasswordForm',
  'The reset page\'s form, as a browser posts it.',
);

// ---- responses ------------------------------------------------------------------------------------

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

