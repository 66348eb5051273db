// The CLI's API types (server/contract/api.ts, and the bodies cli/api.ts sends) are the types of the
// zod schemas the OpenAPI document is built from: checked at compile time, so a drift on either
// side fails `tsc --noEmit`. The one runtime test checks the lists a type cannot see.
import test from 'ava';
import type { z } from 'zod';
import type { Api } from '../cli/api.js';
import { acceptedSchema, meResponseSchema, userResponseSchema, userSchema, verifyResponseSchema, type registerBody, type updateProfileBody } from '../server/accounts/schemas.js';
import { accessTokenSchema, createdTokenSchema, tokenListSchema, type createTokenBody } from '../server/tokens/schemas.js';
import { accountEventSchema, accountEventTypeSchema, eventListSchema } from '../server/activity/schemas.js';
import { sessionResponseSchema, type loginBody } from '../server/login/schemas.js';
import { passwordChangeResponseSchema, resetTokenInfoSchema, type changePasswordBody } from '../server/passwords/schemas.js';
import { errorCodeSchema, problemSchema } from '../server/reference/schemas.js';
import { revokedSchema, sessionInfoSchema, sessionListSchema } from '../server/sessions/schemas.js';
import {
  ERROR_CODES,
  type AccessTokenInfo,
  type CreatedAccessToken,
  type MeResponse,
  type AcceptedResponse,
  type AccountEvent,
  type AccountEventType,
  type ErrorCode,
  type PasswordChangeResponse,
  type Problem,
  type ResetTokenInfo,
  type SessionInfo,
  type SessionResponse,
  type User,
  type UserResponse,
  type VerifyResponse,
} from '../server/contract/api.js';

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only for `true`: `assertType<Equal<A, B>>()`. */
const assertType = <T extends true>(): T | undefined => undefined;
/** A type with its properties listed, so `{a} & {b}` and `{a, b}` compare equal. */
type Flat<T> = T extends object ? { [K in keyof T]: Flat<T[K]> } : T;
type Same<A, B> = Equal<Flat<A>, Flat<B>>;
type Output<S extends z.ZodType> = z.output<S>;
type Returned<K extends keyof Api> = Api[K] extends (...args: never[]) => Promise<infer R> ? R : never;
type Sent<K extends keyof Api> = Api[K] extends (body: infer B) => unknown ? B : never;

// Responses: contract/api.ts against the response schemas.
assertType<Same<User, Output<typeof userSchema>>>();
assertType<Same<UserResponse, Output<typeof userResponseSchema>>>();
assertType<Same<MeResponse, Output<typeof meResponseSchema>>>();
assertType<Same<AccessTokenInfo, Output<typeof accessTokenSchema>>>();
assertType<Same<CreatedAccessToken, Output<typeof createdTokenSchema>>>();
assertType<Same<{ accessTokens: AccessTokenInfo[] }, Output<typeof tokenListSchema>>>();
assertType<Same<VerifyResponse, Output<typeof verifyResponseSchema>>>();
assertType<Same<PasswordChangeResponse, Output<typeof passwordChangeResponseSchema>>>();
assertType<Same<ResetTokenInfo, Output<typeof resetTokenInfoSchema>>>();
assertType<Same<AcceptedResponse, Output<typeof acceptedSchema>>>();
assertType<Same<SessionResponse, Output<typeof sessionResponseSchema>>>();
assertType<Same<Problem, Output<typeof problemSchema>>>();
assertType<Same<ErrorCode, Output<typeof errorCodeSchema>>>();
assertType<Same<SessionInfo, Output<typeof sessionInfoSchema>>>();
assertType<Same<AccountEvent, Output<typeof accountEventSchema>>>();
assertType<Same<AccountEventType, Output<typeof accountEventTypeSchema>>>();

// What the CLI's client says it gets back where contract/api.ts has no name for it.
assertType<Same<Returned<'sessions'>, Output<typeof sessionListSchema>>>();
assertType<Same<Returned<'events'>, Output<typeof eventListSchema>>>();
assertType<Same<Returned<'revokeSessions'>, Output<typeof revokedSchema>>>();

// Requests: the bodies the CLI sends against the schemas the daemon validates them with.
assertType<Same<Sent<'register'>, z.input<typeof registerBody>>>();
assertType<Same<Sent<'login'>, z.input<typeof loginBody>>>();
assertType<Same<Sent<'updateMe'>, z.input<typeof updateProfileBody>>>();
assertType<Same<Sent<'changePassword'>, z.input<typeof changePasswordBody>>>();
assertType<Same<Sent<'createToken'>, z.input<typeof createTokenBody>>>();

test('the problem codes of the API types are the ones the schemas document, in order', (t) => {
  t.deepEqual(errorCodeSchema.options, [...ERROR_CODES]);
});

test('a login answer as the CLI reads it passes the schema, and one with an extra field does not', (t) => {
  const user: User = { id: '0b7e6a8e-3f4e-4c1a-9d1e-2f3a4b5c6d7e', username: 'ada', email: 'ada@example.com', emailVerified: true, pendingEmail: null, twoFactorEnabled: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };
  const login: SessionResponse = { token: `tm_${'A'.repeat(43)}`, expiresAt: '2026-01-31T00:00:00.000Z', user, deviceToken: `tmd_${'B'.repeat(43)}` };
  t.true(sessionResponseSchema.safeParse(login).success);
  t.false(sessionResponseSchema.safeParse({ ...login, user: { ...user, passwordHash: 'x' } }).success);
});
