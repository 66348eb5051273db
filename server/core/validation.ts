// Request bodies, as zod schemas built on the contract's rules (server/contract/). Daemon only: the CLI checks fields
// one by one with the same rules and never loads zod.
import { z } from 'zod';
import { PASSWORD_MAX, TOKEN_MAX, emailProblem, passwordBasicProblem, usernameProblem } from '../contract/rules.js';

/** A string field: "X is required." when it is missing, "X must be a string." when it is another type. */
function text(name: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `${name} is required.` : `${name} must be a string.`) });
}

/** A zod string field whose message is ours. */
function field(check: (value: string) => string | undefined, name: string) {
  return text(name).superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

export const emailField = field(emailProblem, 'Email').transform((email) => email.trim());
export const usernameField = field(usernameProblem, 'Username');
export const passwordField = text('Password')
  .min(1, 'Password is required.')
  .max(PASSWORD_MAX * 4, `Password must be at most ${PASSWORD_MAX} characters.`);
/** A new password: length here; personal information and strength need the other fields. */
export const newPasswordField = field((value) => passwordBasicProblem(value), 'Password');
export const tokenField = text('Token')
  .trim()
  .min(1, 'Token is required.')
  .max(TOKEN_MAX, 'Token is not valid.');

export const registerBody = z.object({ email: emailField, username: usernameField, password: newPasswordField });
/** A device token from an earlier login (see SECURITY.md, "Lockout"): optional, never an error when unknown. */
export const deviceTokenField = z.string({ error: 'Device token must be a string.' }).max(TOKEN_MAX, 'Device token is not valid.');
export const loginBody = z.object({ email: emailField, password: passwordField, deviceToken: deviceTokenField.optional() });
export const verifyBody = z.object({ token: tokenField });
export const resendBody = z.object({ email: emailField });
export const updateProfileBody = z
  .object({
    username: usernameField.optional(),
    email: emailField.optional(),
    currentPassword: passwordField.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.username === undefined && body.email === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'Give a new username or email.' });
    }
    if (body.email !== undefined && body.currentPassword === undefined) {
      ctx.addIssue({ code: 'custom', path: ['currentPassword'], message: 'Changing the email needs your current password.' });
    }
  });

export const forgotBody = z.object({ email: emailField });
export const resetBody = z.object({ token: tokenField, password: newPasswordField });
export const changePasswordBody = z.object({
  currentPassword: text('Current password').min(1, 'Current password is required.').max(PASSWORD_MAX * 4, 'Current password is not right.'),
  newPassword: field((value) => passwordBasicProblem(value), 'New password'),
});

/** `DELETE /v1/me`: the password again, however fresh the session (re-authentication before deletion). */
export const deleteAccountBody = z.object({
  currentPassword: text('Current password')
    .min(1, 'Current password is required.')
    .max(PASSWORD_MAX * 4, `Current password must be at most ${PASSWORD_MAX} characters.`),
});

export type RegisterBody = z.infer<typeof registerBody>;
export type LoginBody = z.infer<typeof loginBody>;
export type UpdateProfileBody = z.infer<typeof updateProfileBody>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: Record<string, string> };

/** Parses an unknown body; field errors keep the first message per field. */
export function parseBody<T>(schema: z.ZodType<T>, input: unknown): Parsed<T> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: { body: 'The request body must be a JSON object.' } };
  }
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const errors: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.length > 0 ? String(issue.path[0]) : 'body';
    errors[key] ??= issue.message;
  }
  return { ok: false, errors };
}

