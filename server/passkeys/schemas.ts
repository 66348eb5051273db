// Passkeys' request and response bodies, as zod schemas (validation and the OpenAPI document). The
// ceremonies' answers (the browser's `PublicKeyCredential` as JSON) are checked for their shape
// here; what they prove is checked by @simplewebauthn/server (store.ts).
import { z } from 'zod';
import { described, named, requestDocs, responseDocs, timestamp } from '../core/api-docs.js';
import { field } from '../core/validation.js';
import { characterCount } from '../contract/rules.js';

export const PASSKEY_NAME_MAX = 64;
/** Not blank, and no control characters: the name shows in lists and mails. */
const NAME_PATTERN = /^[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$/;

function nameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'Name is required: say which passkey it is, like "Laptop" or "YubiKey".';
  if (characterCount(name) > PASSKEY_NAME_MAX) return `Name must be at most ${PASSKEY_NAME_MAX} characters.`;
  if (!NAME_PATTERN.test(name)) return 'Name must not contain control characters.';
  return undefined;
}

export const passkeyName = field(nameProblem, 'Name').transform((name) => name.trim());
described(requestDocs, passkeyName, 'What the passkey is, for you to tell them apart ("Laptop", "YubiKey").', { maxLength: PASSKEY_NAME_MAX, pattern: NAME_PATTERN.source });

const base64url = z.string().max(16_384).regex(/^[A-Za-z0-9_-]*$/, 'Not base64url.');

/** `startRegistration()`'s answer (RegistrationResponseJSON). */
export const registrationResponse = z.object({
  id: base64url.min(1),
  rawId: base64url.min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url.min(1),
    attestationObject: base64url.min(1),
    transports: z.array(z.string().max(32)).max(10).optional(),
  }).passthrough(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
}).passthrough();

/** `startAuthentication()`'s answer (AuthenticationResponseJSON). */
export const authenticationResponse = z.object({
  id: base64url.min(1),
  rawId: base64url.min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url.min(1),
    authenticatorData: base64url.min(1),
    signature: base64url.min(1),
    userHandle: base64url.optional(),
  }).passthrough(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
}).passthrough();

export const registerBody = z.object({ response: registrationResponse, name: passkeyName.optional() });
export const authenticateBody = z.object({ response: authenticationResponse });
export const renameBody = z.object({ name: passkeyName });

named(requestDocs, registrationResponse, 'PasskeyRegistrationResponse', 'The browser\'s answer to the registration options (`navigator.credentials.create()` as JSON, as @simplewebauthn/browser\'s `startRegistration()` returns it).');
named(requestDocs, authenticationResponse, 'PasskeyAuthenticationResponse', 'The browser\'s answer to the sign-in options (`navigator.credentials.get()` as JSON, as @simplewebauthn/browser\'s `startAuthentication()` returns it).');

// ---- responses ------------------------------------------------------------------------------------

export const passkeySchema = named(
  responseDocs,
  z.strictObject({
    id: described(responseDocs, z.string(), 'The passkey\'s id here (not the authenticator\'s credential id): what `DELETE /v1/me/passkeys/{id}` takes.'),
    name: described(responseDocs, z.string(), 'Its name, which you can change on `/account`.'),
    createdAt: timestamp('When it was added.'),
    lastUsedAt: described(responseDocs, z.iso.datetime().nullable(), 'When it last signed in; null: never yet.'),
  }),
  'Passkey',
  'A passkey of the account: never its key or credential id.',
);

export const passkeyListSchema = named(responseDocs, z.strictObject({ passkeys: z.array(passkeySchema) }), 'PasskeyList', 'The account\'s passkeys, newest first.');

// ---- the pages' script: its JSON requests and answers ------------------------------------------------

const text = (description: string) => described(requestDocs, z.string(), description);
const csrf = text('The CSRF token the page gave its script for this path (`data-*-csrf`), as a form carries it.');

named(requestDocs, z.object({ csrf }), 'PasskeyOptionsRequest', 'A new ceremony: only the page\'s CSRF token.');
named(
  requestDocs,
  z.object({ csrf, response: authenticationResponse, next: text('Where to go once signed in: a path of this site (`/account` when missing or not a path of this site).').optional() }),
  'PasskeySignInRequest',
  'The browser\'s answer to the sign-in options, and where to go afterwards.',
);
named(
  requestDocs,
  z.object({ csrf, response: registrationResponse, name: text('A name for the passkey; a default ("Passkey 2") when blank.').optional() }),
  'PasskeyRegisterRequest',
  'The browser\'s answer to the registration options, and the passkey\'s name.',
);
named(requestDocs, z.object({ csrf, id: text('The passkey\'s id.'), name: text('The new name.') }), 'WebPasskeyRenameForm', 'A passkey\'s new name.');
named(
  requestDocs,
  z.object({ csrf, id: text('The passkey\'s id.'), currentPassword: text('The current password.'), code: text('With two-factor on: a code, or a recovery code.').optional() }),
  'WebPasskeyRemoveForm',
  'Which passkey to remove, with the password again (and the code when two-factor is on).',
);
named(
  requestDocs,
  z.object({ csrf, currentPassword: text('The current password.'), code: text('With two-factor on: a code, or a recovery code.').optional() }),
  'WebReauthForm',
  'Signing in again: the password (and the code when two-factor is on).',
);

named(
  responseDocs,
  z.looseObject({ challenge: described(responseDocs, z.string(), 'The challenge (base64url): single use, for 5 minutes.') }),
  'PasskeyOptions',
  'The options for `navigator.credentials.create()` or `.get()` as JSON (WebAuthn Level 3\'s `PublicKeyCredentialCreationOptionsJSON` / `PublicKeyCredentialRequestOptionsJSON`): the relying party id is PUBLIC_URL\'s host, user verification is required, and a registration excludes the account\'s passkeys and asks for a discoverable credential.',
);
named(responseDocs, z.strictObject({ location: described(responseDocs, z.string(), 'Where the page goes next: a path of this site.') }), 'PasskeySignedIn', 'Signed in: the session cookie is set.');
named(responseDocs, z.strictObject({ passkey: passkeySchema, location: described(responseDocs, z.string(), 'Where the page goes next: `/account`.') }), 'PasskeyAdded', 'The passkey added.');
