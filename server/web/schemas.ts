// The web pages' forms, as the OpenAPI document describes them (application/x-www-form-urlencoded).
// The fields are checked by the capabilities' own schemas when the page hands them on (the login's,
// the registration's, the profile's): these only document what each form sends.
import { z } from 'zod';
import { described, named, requestDocs } from '../core/api-docs.js';

const csrf = described(requestDocs, z.string(), 'The form\'s CSRF token, from the hidden field of the page that showed the form.');

named(requestDocs, z.object({ csrf }), 'WebForm', 'A form with nothing but its CSRF token (a button).');
