// Account rules shared by the daemon and the CLI, so a prompt refuses exactly what the daemon refuses.
// Pure: no dependencies, no I/O. The strength estimator lives in ./password-strength.ts because its dictionaries
// are large and the CLI loads it only when it asks for a new password.
const USERNAME_MIN = 3;
const USERNAME_MAX = 32;
const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
const EMAIL_MAX = 254;
export const TOKEN_MAX = 512;

/** What a password typed at login or to confirm may be: anything, within reason. */
const TYPED_PASSWORD_MAX = PASSWORD_MAX * 4;

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// Letters, digits and the usual punctuation of addresses in dot-atoms (no leading, trailing or
// double dot); no control, space, quote or non-ASCII characters, which is what real mail systems
// accept without surprises. Surrounding white space is trimmed.
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL_PATTERN = new RegExp(`^\\s*${ATOM}(?:\\.${ATOM})*@${LABEL}(?:\\.${LABEL})+\\s*$`);
/** An emailed token: anything but blank (it is trimmed), at most TOKEN_MAX characters. */
const TOKEN_PATTERN = /\S/;

/**
 * The limits of each text field as JSON Schema states them (the API document is built from these):
 * the checks below apply exactly these, counting characters as code points as JSON Schema does.
 */
export const FIELD_LIMITS = {
  email: { maxLength: EMAIL_MAX, pattern: EMAIL_PATTERN.source },
  username: { minLength: USERNAME_MIN, maxLength: USERNAME_MAX, pattern: USERNAME_PATTERN.source },
  newPassword: { minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX },
  typedPassword: { minLength: 1, maxLength: TYPED_PASSWORD_MAX },
  token: { maxLength: TOKEN_MAX, pattern: TOKEN_PATTERN.source },
  deviceToken: { maxLength: TOKEN_MAX },
} as const;

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
  if (email.trim() === '') return 'Email is required.';
  if (characterCount(email) > EMAIL_MAX) return `Email must be at most ${EMAIL_MAX} characters.`;
  if (!EMAIL_PATTERN.test(email)) return 'Enter a valid email address, like name@example.com.';
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

/** A password as typed (at login, or to confirm a change): present, and not absurdly long. */
export function typedPasswordProblem(password: string, name = 'Password'): string | undefined {
  if (password === '') return `${name} is required.`;
  if (characterCount(password) > TYPED_PASSWORD_MAX) return `${name} must be at most ${TYPED_PASSWORD_MAX} characters.`;
  return undefined;
}

/** An emailed token as sent: not blank, not longer than any token could be. */
export function tokenProblem(token: string): string | undefined {
  if (!TOKEN_PATTERN.test(token)) return 'Token is required.';
  if (characterCount(token) > TOKEN_MAX) return 'Token is not valid.';
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
