// Access tokens' request and response bodies, as zod schemas (validation and the OpenAPI document).
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { described, named, nullableText, requestDocs, responseDocs, timestamp } from '../core/api-docs.js';
import { currentPasswordField, field } from '../core/validation.js';
import { SCOPES, TOKEN_DAYS_MAX, TOKEN_DAYS_MIN, TOKEN_NAME_MAX } from '../contract/access-tokens.js';
import { characterCount } from '../contract/rules.js';
import { codeField } from '../two-factor/schemas.js';

/** At most this many address ranges on one token. */
const CIDRS_MAX = 20;

/** Not blank, and no control characters: the name shows in lists and mails. */
const NAME_PATTERN = /^[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$/;

function nameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'Name is required: say what the token is for, like "ci-deploy".';
  if (characterCount(name) > TOKEN_NAME_MAX) return `Name must be at most ${TOKEN_NAME_MAX} characters.`;
  if (!NAME_PATTERN.test(name)) return 'Name must not contain control characters.';
  return undefined;
}

/** An address range as `203.0.113.0/24` or `2001:db8::/48`; a bare address is that one address. */
function cidrProblem(text: string): string | undefined {
  const cidr = text.includes('/') ? text : `${text}/${ipaddr.IPv6.isValid(text) && !ipaddr.IPv4.isValid(text) ? 128 : 32}`;
  if (!ipaddr.isValidCIDR(cidr)) return `"${text.slice(0, 60)}" is not an address range like 203.0.113.0/24 or 2001:db8::/48.`;
  if (ipaddr.parseCIDR(cidr)[1] === 0) return `"${text}" allows every address: leave allowedCidrs out instead.`;
  return undefined;
}

/** The range in its plain form: the network address and its prefix length. */
function normalizedCidr(text: string): string {
  const cidr = text.includes('/') ? text : `${text}/${ipaddr.IPv6.isValid(text) && !ipaddr.IPv4.isValid(text) ? 128 : 32}`;
  const [address, bits] = ipaddr.parseCIDR(cidr);
  // ::ffff:203.0.113.0/120 is 203.0.113.0/24: clients are compared as the IPv4 they are.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return normalizedCidr(`${(address as ipaddr.IPv6).toIPv4Address().toString()}/${bits - 96}`);
  }
  const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return `${network.toString()}/${bits}`;
}

const tokenName = field(nameProblem, 'Name').transform((name) => name.trim());
const cidr = field(cidrProblem, 'Address range').transform(normalizedCidr);

export const createTokenBody = z.object({
  name: tokenName,
  scopes: z
    .array(z.enum(SCOPES, { error: `Each scope must be one of ${SCOPES.join(', ')}.` }), { error: 'Scopes must be a list, like ["account:read"].' })
    .min(1, `Give at least one scope: ${SCOPES.join(', ')}.`),
  expiresInDays: z
    .int({ error: 'Expiry must be a whole number of days.' })
    .min(TOKEN_DAYS_MIN, `Expiry must be ${TOKEN_DAYS_MIN}–${TOKEN_DAYS_MAX} days: every token expires.`)
    .max(TOKEN_DAYS_MAX, `Expiry must be ${TOKEN_DAYS_MIN}–${TOKEN_DAYS_MAX} days: every token expires.`),
  allowedCidrs: z.array(cidr, { error: 'Allowed CIDRs must be a list, like ["203.0.113.0/24"].' }).max(CIDRS_MAX, `At most ${CIDRS_MAX} address ranges.`).optional(),
  currentPassword: currentPasswordField,
  code: codeField.optional(),
});

described(requestDocs, tokenName, 'What the token is for, unique among the account\'s live tokens (an expired token of the same name is replaced).', { maxLength: TOKEN_NAME_MAX, pattern: NAME_PATTERN.source });
described(requestDocs, cidr, 'An address range (`203.0.113.0/24`, `2001:db8::/48`) or one address; not one that allows every address (`/0`).');
named(requestDocs, createTokenBody, 'CreateTokenBody', 'A new access token, with the password again.');

// ---- responses ------------------------------------------------------------------------------------

export const scopeSchema = named(responseDocs, z.enum(SCOPES), 'Scope', 'What an access token may do: `account:read` (GET /v1/me, GET /v1/sessions, GET /v1/me/events), `account:write` (PATCH /v1/me for the username, DELETE /v1/sessions/{id}).');

export const accessTokenSchema = named(
  responseDocs,
  z.strictObject({
    id: described(responseDocs, z.uuid(), 'A public id for revoking the token, never the token.'),
    name: z.string(),
    scopes: z.array(scopeSchema),
    createdAt: timestamp('When the token was created.'),
    expiresAt: timestamp('When the token stops working (a token in the list past this time has expired; it stays listed for 30 days).'),
    lastUsedAt: described(responseDocs, z.iso.datetime().nullable(), 'When the token was last used, written at most once a minute; null when never.'),
    lastUsedAddress: nullableText('The client address it was last used from.'),
    allowedCidrs: described(responseDocs, z.array(z.string()).nullable(), 'The address ranges it works from; null: any address.'),
    prefix: described(responseDocs, z.string().length(8), 'The token\'s first 8 characters, to tell tokens apart; never more of it.'),
  }),
  'AccessToken',
  'An access token, as the list shows it.',
);

export const createdTokenSchema = named(
  responseDocs,
  z.strictObject({
    token: described(responseDocs, z.string().regex(/^tmp_[0-9A-Za-z]{36}$/), 'The token, shown in this answer only: `tmp_`, 30 random characters and a 6-character CRC-32 checksum (see the README).'),
    accessToken: accessTokenSchema,
  }),
  'CreatedAccessToken',
  'The new token and what the list will show of it.',
);

export const tokenListSchema = named(responseDocs, z.strictObject({ accessTokens: z.array(accessTokenSchema) }), 'AccessTokenList', 'The account\'s access tokens, newest first.');
