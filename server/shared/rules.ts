// Account rules shared by the daemon and the CLI, so a prompt refuses exactly what the daemon refuses.
// Pure: zod only. The strength estimator lives in ./password-strength.ts because its dictionaries
// are large and the CLI loads it only when it asks for a new password.
import { z } from 'zod';

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
export const EMAIL_MAX = 254;
export const TOKEN_MAX = 512;

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// Letters, digits and the usual punctuation of addresses; no control, space, quote or non-ASCII
// characters, which is what real mail systems accept without surprises.
const EMAIL_PATTERN = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function normalizeUsername(username: string): string {
  return username.toLowerCase();
}

/** Characters as a person counts them (code points), not UTF-16 units. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export function emailProblem(email: string): string | undefined {
  const trimmed = email.trim();
  if (trimmed === '') return 'Email is required.';
  if (trimmed.length > EMAIL_MAX) return `Email must be at most ${EMAIL_MAX} characters.`;
  if (!EMAIL_PATTERN.test(trimmed) || trimmed.includes('..')) return 'Enter a valid email address, like name@example.com.';
  return undefined;
}

export function usernameProblem(username: string): string | undefined {
  if (username === '') return 'Username is required.';
  if (username.length < USERNAME_MIN || username.length > USERNAME_MAX) {
    return `Username must be ${USERNAME_MIN}–${USERNAME_MAX} characters.`;
  }
  if (!USERNAME_PATTERN.test(username)) {
    return 'Username may use only ASCII letters, digits, "-", "_" and ".", and must start with a letter or digit.';
  }
  return undefined;
}

export interface PasswordContext {
  username?: string | undefined;
  email?: string | undefined;
}

/** The length and personal-information rules; strength is checked by password-strength.ts. */
export function passwordBasicProblem(password: string, context: PasswordContext = {}): string | undefined {
  const length = characterCount(password);
  if (length < PASSWORD_MIN) return `Password must be at least ${PASSWORD_MIN} characters.`;
  if (length > PASSWORD_MAX) return `Password must be at most ${PASSWORD_MAX} characters.`;
  const lowered = password.toLowerCase();
  if (context.username && context.username.length >= USERNAME_MIN && lowered.includes(context.username.toLowerCase())) {
    return 'Password must not contain your username.';
  }
  const localPart = context.email ? normalizeEmail(context.email).split('@')[0] : undefined;
  if (localPart && localPart.length >= 3 && lowered.includes(localPart)) {
    return 'Password must not contain your email address.';
  }
  return undefined;
}

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
export const tokenField = z
  .string({ error: 'Token is required.' })
  .trim()
  .min(1, 'Token is required.')
  .max(TOKEN_MAX, 'Token is not valid.');

export const registerBody = z.object({ email: emailField, username: usernameField, password: passwordField });
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

/** A verification token pasted as-is, or the whole link from the email. */
export function tokenFromInput(input: string): string {
  const trimmed = input.trim();
  const match = /[?&]token=([^&#\s]+)/.exec(trimmed);
  if (match?.[1]) {
    try {
      return decodeURIComponent(match[1]);
    } catch {
      return match[1];
    }
  }
  return trimmed;
}
