// Two-factor's request and response bodies, as zod schemas (validation and the OpenAPI document).
import { z } from 'zod';
import { described, named, requestDocs, responseDocs } from '../core/api-docs.js';
import { currentPasswordField, field } from '../core/validation.js';
import { characterCount } from '../contract/rules.js';

const CODE_MAX = 64;

/** A TOTP code (6 digits) or a recovery code (`abcd-efgh-jkmn-pqrs`); spaces and dashes are ignored. */
export const codeField = field((code) => (code.trim() === '' ? 'Code is required.' : characterCount(code) > CODE_MAX ? `Code must be at most ${CODE_MAX} characters.` : undefined), 'Code');
described(requestDocs, codeField, 'The 6-digit code from the authenticator app, or an unused recovery code; spaces and dashes are ignored.', { maxLength: CODE_MAX, pattern: '\\S' });

export const enrolBody = z.object({ currentPassword: currentPasswordField });
export const confirmBody = z.object({ code: codeField });
/** Re-authentication: the password, and the code when two-factor is on. */
export const reauthBody = z.object({ currentPassword: currentPasswordField, code: codeField.optional() });
const CHALLENGE_MAX = 200;
const challengeField = field((value) => (value.trim() === '' || characterCount(value) > CHALLENGE_MAX ? 'Challenge is not valid.' : undefined), 'Challenge');
described(requestDocs, challengeField, 'The `challenge` of the `otp_required` answer.', { maxLength: CHALLENGE_MAX, pattern: '\\S' });
/** As at `POST /v1/sessions`: a device token from an earlier login (any text: never an error when unknown). */
const deviceTokenField = field((value) => (characterCount(value) > 512 ? 'Device token is not valid.' : undefined), 'Device token');
described(requestDocs, deviceTokenField, 'The device token an earlier login of this account answered; optional, never an error when unknown.', { maxLength: 512 });

export const otpLoginBody = z.object({ challenge: challengeField, code: codeField, deviceToken: deviceTokenField.optional() });

named(requestDocs, enrolBody, 'TotpEnrolBody', 'The password again, to start an enrolment.');
named(requestDocs, confirmBody, 'TotpConfirmBody', 'A code from the new secret: two-factor turns on.');
named(requestDocs, reauthBody, 'ReauthBody', 'Re-authentication: the password, and the code when two-factor is on.');
named(requestDocs, otpLoginBody, 'OtpLoginBody', 'The challenge of a login whose password was right, and the code.');

// ---- responses ------------------------------------------------------------------------------------

export const enrolmentSchema = named(
  responseDocs,
  z.strictObject({
    secret: described(responseDocs, z.string().regex(/^[A-Z2-7]{32}$/), 'The TOTP secret (160 bits, base32), for typing into an authenticator app.'),
    otpauthUri: described(responseDocs, z.string().regex(/^otpauth:\/\/totp\/TaskMaster:[^?]+\?secret=[A-Z2-7]+&issuer=TaskMaster$/), 'The same as a URI, for a QR code: `otpauth://totp/TaskMaster:<username>?secret=…&issuer=TaskMaster` (SHA-1, 6 digits, 30 s).'),
  }),
  'TotpEnrolment',
  'A new secret; nothing is on until a code from it is confirmed.',
);

export const recoveryCodesSchema = named(
  responseDocs,
  z.strictObject({ recoveryCodes: described(responseDocs, z.array(z.string().regex(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/)).length(10), 'Ten single-use codes, shown this once.') }),
  'RecoveryCodes',
  'Recovery codes: each works once where a TOTP code does.',
);
