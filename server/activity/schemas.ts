// The account's events, as zod schemas for the OpenAPI document.
import { z } from 'zod';
import { described, named, nullableText, responseDocs, timestamp } from '../core/api-docs.js';

export const accountEventTypeSchema = named(
  responseDocs,
  z.enum(['login', 'login_failed', 'logout', 'password_changed', 'password_reset', 'email_changed', 'session_revoked', 'token_created', 'token_revoked', 'two_factor_enabled', 'two_factor_disabled', 'recovery_codes_regenerated', 'recovery_code_used', 'code_failed', 'account_disabled', 'account_enabled', 'account_unlocked', 'verification_resent', 'device_approved', 'passkey_added', 'passkey_removed']),
  'AccountEventType',
  'What happened.',
);

export const accountEventSchema = named(
  responseDocs,
  z.strictObject({
    type: accountEventTypeSchema,
    at: timestamp('When it happened.'),
    address: nullableText('The client address of the request.'),
    userAgent: nullableText('The User-Agent of the request.'),
    actor: described(responseDocs, z.literal('operator'), 'Present when the operator of the service did it (with `taskmasterd users`), not a request of the account; address and userAgent are then null.').optional(),
  }),
  'AccountEvent',
  'A security event of the account.',
);

export const eventListSchema = named(
  responseDocs,
  z.strictObject({ events: z.array(accountEventSchema) }),
  'EventList',
  'The account\'s security events of the last 90 days, newest first.',
);
