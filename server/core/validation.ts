// The request fields every capability's bodies are built from, as zod schemas on the contract's
// rules (server/contract/), and parseBody. Daemon only: the CLI checks fields one by one with the
// same rules and never loads zod.
import { z } from 'zod';
import { described, requestDocs } from './api-docs.js';
import { FIELD_LIMITS, emailProblem, passwordBasicProblem, tokenProblem, typedPasswordProblem, usernameProblem } from '../contract/rules.js';

/** A string field: "X is required." when it is missing, "X must be a string." when it is another type. */
export function text(name: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `${name} is required.` : `${name} must be a string.`) });
}

/** A zod string field whose message is ours. */
export function field(check: (value: string) => string | undefined, name: string) {
  return text(name).superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

export const emailField = field(emailProblem, 'Email').transform((email) => email.trim());
export const usernameField = field(usernameProblem, 'Username');
/** A password as typed at login. */
export const passwordField = field((value) => typedPasswordProblem(value), 'Password');
/** A new password: length here; personal information and strength need the other fields. */
export const newPasswordField = field((value) => passwordBasicProblem(value), 'Password');
/** The current password, asked again (a change, a deletion). */
export const currentPasswordField = field((value) => typedPasswordProblem(value, 'Current password'), 'Current password');
export const tokenField = field(tokenProblem, 'Token').transform((token) => token.trim());

// What the API document says of them: the limits the checks above apply (server/contract/rules.ts).
described(requestDocs, emailField, 'An email address; surrounding white space is trimmed; compared without regard to case.', FIELD_LIMITS.email);
described(requestDocs, usernameField, '3–32 ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit; unique without regard to case, shown as typed.', FIELD_LIMITS.username);
described(
  requestDocs,
  newPasswordField,
  'A new password: 8–256 characters, not common or weak (a strength estimator decides), not containing the username or the email\'s local part. Bytes past bcrypt\'s 72 still count.',
  FIELD_LIMITS.newPassword,
);
described(requestDocs, passwordField, 'The password, as typed (nothing is trimmed).', FIELD_LIMITS.typedPassword);
described(requestDocs, currentPasswordField, 'The current password; a wrong one counts as a failed login.', FIELD_LIMITS.typedPassword);
described(requestDocs, tokenField, 'The token from the email (43 letters and digits); surrounding spaces are ignored.', FIELD_LIMITS.token);

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
