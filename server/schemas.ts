// Request bodies, as zod schemas built on the shared rules. Daemon only: the CLI checks fields
// one by one with the same rules and never loads zod.
import { z } from 'zod';
import { PASSWORD_MAX, TOKEN_MAX, emailProblem, passwordBasicProblem, usernameProblem } from './shared/rules.js';

/** A zod string field whose message is ours. */
function field(check: (value: string) => string | undefined, required: string) {
  return z.string({ error: required }).superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

export const emailField = field(emailProblem, 'Email is required.').transform((email) => email.trim());
export const usernameField = field(usernameProblem, 'Username is required.');
export const passwordField = z
  .string({ error: 'Password is required.' })
  .min(1, 'Password is required.')
  .max(PASSWORD_MAX * 4, `Password must be at most ${PASSWORD_MAX} characters.`);
/** A new password: length here; personal information and strength need the other fields. */
export const newPasswordField = field((value) => passwordBasicProblem(value), 'Password is required.');
export const tokenField = z
  .string({ error: 'Token is required.' })
  .trim()
  .min(1, 'Token is required.')
  .max(TOKEN_MAX, 'Token is not valid.');

export const registerBody = z.object({ email: emailField, username: usernameField, password: newPasswordField });
export const loginBody = z.object({ email: emailField, password: passwordField });
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

