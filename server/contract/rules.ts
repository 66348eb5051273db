// Account rules shared by the daemon and the CLI, so a prompt refuses exactly what the daemon refuses.
// Pure: no dependencies, no I/O. The strength estimator lives in ./password-strength.ts because its dictionaries
// are large and the CLI loads it only when it asks for a new password.
const USERNAME_MIN = 3;
const USERNAME_MAX = 32;
const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
const EMAIL_MAX = 254;
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
function characterCount(text: string): number {
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
