// The sessions' response bodies, as zod schemas for the OpenAPI document.
import { z } from 'zod';
import { count, described, named, nullableText, responseDocs, timestamp } from '../core/api-docs.js';

export const sessionInfoSchema = named(
  responseDocs,
  z.strictObject({
    id: described(responseDocs, z.uuid(), 'A public id for revoking the session, never its token.'),
    current: described(responseDocs, z.boolean(), 'True for the session that asks.'),
    createdAt: timestamp('When the session was created (the login).'),
    lastUsedAt: timestamp('When the session was last used, written at most once a minute.'),
    expiresAt: timestamp('When the session ends unless revoked sooner.'),
    address: nullableText('The client address the session was created from.'),
    userAgent: nullableText('The User-Agent the session was created with.'),
  }),
  'SessionInfo',
  'One live session of the account.',
);

export const sessionListSchema = named(
  responseDocs,
  z.strictObject({ sessions: z.array(sessionInfoSchema) }),
  'SessionList',
  'The account\'s live sessions, newest first.',
);

export const revokedSchema = named(responseDocs, z.strictObject({ revoked: count('How many sessions ended.') }), 'RevokedSessions', 'How many sessions ended.');
