// The web pages' forms, as the OpenAPI document describes them (application/x-www-form-urlencoded).
// The fields are checked by the capabilities' own schemas when the page hands them on (the login's,
// the registration's, the profile's, the sessions' and tokens'): these only document what each form sends.
import { z } from 'zod';
import { described, named, requestDocs } from '../core/api-docs.js';

const text = (description: string) => described(requestDocs, z.string(), description);
const csrf = text('The form\'s CSRF token, from the hidden field of the page that showed the form.');
const next = text('Where to go once signed in: a path of this site (`/account` when missing or not a path of this site).').optional();

named(requestDocs, z.object({ csrf }), 'WebForm', 'A form with nothing but its CSRF token (a button).');
named(
  requestDocs,
  z.object({
    csrf,
    email: text('The account\'s email (the password step).').optional(),
    password: text('The password (the password step).').optional(),
    challenge: text('The code step: the challenge the password step put in the page.').optional(),
    code: text('The code step: a code from the authenticator app, or a recovery code.').optional(),
    next,
  }),
  'WebLoginForm',
  'The sign-in form: email and password, or (with `challenge`) the code step.',
);
named(requestDocs, z.object({ csrf, email: text('The address of the account to confirm.') }), 'WebEmailForm', 'An email address (a new confirmation email, a forgotten password).');
named(
  requestDocs,
  z.object({ csrf, email: text('Email.'), username: text('Username.'), password: text('Password.'), confirm: text('The password again.') }),
  'WebRegisterForm',
  'A new account, with the same rules as `POST /v1/users`.',
);
named(requestDocs, z.object({ csrf, username: text('The new username.') }), 'WebUsernameForm', 'A new username.');
named(
  requestDocs,
  z.object({ csrf, email: text('The new email.'), currentPassword: text('The current password.'), code: text('With two-factor on: a code, or a recovery code.').optional() }),
  'WebEmailChangeForm',
  'A new email, with the password again (and the code when two-factor is on).',
);
named(requestDocs, z.object({ csrf, id: text('The id of the session or access token.') }), 'WebIdForm', 'Which session to end, or which access token to revoke.');
