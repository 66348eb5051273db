// `taskmaster token`: the raw session token of this server, for `export TASKMASTER_TOKEN=$(taskmaster token)`
// (no server call: it says what is saved, not whether the server still accepts it; that is `status`).
// `token create|list|revoke`: access tokens for scripts and CI, scoped and expiring.
import type { Command } from 'commander';
import { SCOPES, SCOPE_MEANINGS, TOKEN_DAYS_MAX, TOKEN_DAYS_MIN, type Scope } from '../../server/contract/access-tokens.js';
import type { AccessTokenInfo } from '../../server/contract/api.js';
import { readPassword, valueOrAsk, withCode, type Context } from '../context.js';
import { ApiError, CliError, EXIT, NotLoggedInError, UsageError } from '../errors.js';
import { examples } from '../help.js';
import { note, show, success, table, utcMinute } from '../ui.js';

export const TOKEN_ENV = 'TASKMASTER_TOKEN';

export interface CurrentToken {
  token: string;
  /** Where it comes from: `TASKMASTER_TOKEN`, or the config file's path. */
  source: string;
  /** The username saved with it at login (file tokens only). */
  savedUsername: string | undefined;
}

/** The token the other commands would send to `server`, resolved the same way as `ctx.api({ session: true })`. */
export async function currentToken(ctx: Context, server: string): Promise<CurrentToken | undefined> {
  const fromEnv = ctx.env[TOKEN_ENV];
  if (fromEnv) return { token: fromEnv, source: TOKEN_ENV, savedUsername: undefined };
  const config = await ctx.config();
  const entry = config.entry(server);
  return entry?.token ? { token: entry.token, source: config.path, savedUsername: entry.username } : undefined;
}

export function notLoggedIn(server: string): NotLoggedInError {
  return new NotLoggedInError(`You are not logged in to ${server}: no ${TOKEN_ENV} and no saved session. Run \`taskmaster login\`.`);
}

export async function run(ctx: Context): Promise<void> {
  const server = await ctx.server();
  const current = await currentToken(ctx, server);
  if (!current) throw notLoggedIn(server);
  show(ctx.io, { server, token: current.token, tokenSource: current.source }, () => [current.token]);
}

export interface CreateOptions {
  name?: string;
  scope?: string[];
  expires?: string;
  cidr?: string[];
  passwordStdin?: boolean;
  /** The second factor's code, when two-factor is on (asked at a terminal otherwise). */
  otp?: string;
}

/** `30d` or `30`: whole days, 1–366. */
function expiryDays(text: string): number {
  const match = /^(\d+)d?$/.exec(text.trim());
  const days = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(days) || days < TOKEN_DAYS_MIN || days > TOKEN_DAYS_MAX) {
    throw new UsageError(`--expires must be ${TOKEN_DAYS_MIN}–${TOKEN_DAYS_MAX} days, like 30d (got "${text}"): every token expires.`);
  }
  return days;
}

function scopesOf(values: string[]): Scope[] {
  const scopes = values.flatMap((value) => value.split(',')).map((scope) => scope.trim()).filter(Boolean);
  const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
  if (unknown.length > 0) throw new UsageError(`Unknown scope ${unknown.map((scope) => `"${scope}"`).join(', ')}: use ${SCOPES.join(' or ')}.`);
  return [...new Set(scopes)] as Scope[];
}

/**
 * `token create`: asks the password (or reads it with --password-stdin), and prints the token alone
 * on stdout, so `TOKEN=$(taskmaster token create …)` works; everything else goes to stderr.
 */
export async function create(ctx: Context, options: CreateOptions): Promise<void> {
  const name = await valueOrAsk(ctx, options.name, '--name', (prompt) => prompt.input('Name (what the token is for, like ci-deploy):'));
  if (!options.scope || options.scope.length === 0) throw new UsageError(`Missing --scope: pass ${SCOPES.map((scope) => `--scope ${scope}`).join(' or ')} (or both, comma-separated).`);
  const scopes = scopesOf(options.scope);
  if (options.expires === undefined) throw new UsageError(`Missing --expires: pass how many days the token lives, ${TOKEN_DAYS_MIN}–${TOKEN_DAYS_MAX}, like --expires 30d.`);
  const expiresInDays = expiryDays(options.expires);
  const api = await ctx.api({ session: true });
  const currentPassword = await readPassword(ctx, options.passwordStdin, 'Your password (to create a token):');
  let created;
  try {
    created = await withCode(ctx, options.otp, (code) => api.createToken({ name, scopes, expiresInDays, currentPassword, ...(code ? { code } : {}), ...(options.cidr && options.cidr.length > 0 ? { allowedCidrs: options.cidr } : {}) }));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'wrong_password') throw new CliError(error.exitCode, error.code, 'That is not the password of this account: no token was created.');
    if (error instanceof ApiError && error.fieldErrors) throw new CliError(error.exitCode, error.code, Object.values(error.fieldErrors).join(' '));
    throw error;
  }
  if (ctx.io.json) {
    show(ctx.io, created, () => []);
    return;
  }
  ctx.io.print(created.token);
  success(ctx.io, `Created access token "${created.accessToken.name}" (${created.accessToken.scopes.join(', ')}), expires ${utcMinute(created.accessToken.expiresAt)}.`);
  note(ctx.io, 'It is shown this once: store it as a secret in your CI now. Use it with TASKMASTER_TOKEN=<token>; revoke it with `taskmaster token revoke ID`.');
}

/** "in 5 days" when an expiry is a week away or less, "expired" once it is past. */
function expiryLabel(iso: string, now = Date.now()): string {
  const left = Date.parse(iso) - now;
  if (left <= 0) return 'expired';
  const days = Math.round(left / 86_400_000);
  if (days > 7) return utcMinute(iso);
  return `${utcMinute(iso)} (${days === 0 ? 'today' : `in ${days} day${days === 1 ? '' : 's'}`})`;
}

export async function list(ctx: Context): Promise<void> {
  const { accessTokens } = await (await ctx.api({ session: true })).tokens();
  show(ctx.io, { accessTokens }, () => (accessTokens.length === 0 ? [] : tokenTable(ctx, accessTokens)));
  if (accessTokens.length === 0) note(ctx.io, 'No access tokens. Create one for a script or CI job with `taskmaster token create --name NAME --scope account:read --expires 30d`.');
}

function tokenTable(ctx: Context, tokens: AccessTokenInfo[]): string[] {
  const { out } = ctx.io;
  return table(
    ctx.io,
    ['ID', 'NAME', 'SCOPES', 'PREFIX', 'CREATED', 'EXPIRES', 'LAST USED', 'ADDRESS'],
    tokens.map((token) => {
      const expiry = expiryLabel(token.expiresAt);
      return [
        token.id,
        token.name,
        token.scopes.join(','),
        `${token.prefix}…`,
        utcMinute(token.createdAt),
        expiry === 'expired' ? out.red(`expired ${utcMinute(token.expiresAt)}`) : expiry.includes('(') ? out.yellow(expiry) : expiry,
        token.lastUsedAt ? utcMinute(token.lastUsedAt) : 'never',
        token.lastUsedAddress ?? '—',
      ];
    }),
  );
}

/** `token revoke ID`: the ID, or its first characters when only one token starts with them. */
export async function revoke(ctx: Context, id: string): Promise<void> {
  const api = await ctx.api({ session: true });
  const { accessTokens } = await api.tokens();
  const wanted = id.trim().toLowerCase();
  const matching = accessTokens.filter((token) => token.id === wanted || (wanted.length >= 4 && token.id.startsWith(wanted)));
  if (matching.length > 1) throw new UsageError(`"${id}" starts ${matching.length} token IDs: give more of it (see \`taskmaster token list\`).`);
  const target = matching[0];
  if (!target) throw new CliError(EXIT.refused, 'not_found', `No access token of yours has this id ("${id}"). List them with \`taskmaster token list\`.`);
  await api.revokeToken(target.id);
  show(ctx.io, { revoked: 1, id: target.id, name: target.name }, () => []);
  success(ctx.io, `Revoked access token "${target.name}" (${target.prefix}…): it is refused from its next request on.`);
}

export function define(program: Command, makeContext: (command: Command) => Context): void {
  const token = program
    .command('token')
    .description('print the session token of this server, for scripts (no server call; exit 4 when there is none); `token create|list|revoke` manage access tokens for CI')
    .addHelpText(
      'after',
      `
The token is a password for your account: keep it out of logs and shared shells. For CI, prefer an
access token: scoped, expiring, revocable (taskmaster token create).
${examples('export TASKMASTER_TOKEN=$(taskmaster token)', 'taskmaster token --server https://tasks.example.com')}`,
    )
    .action(async (_options, command: Command) => run(makeContext(command)));

  token
    .command('create')
    .description('create an access token for a script or CI job: prints the token alone on stdout (asks your password)')
    .option('--name <name>', 'what the token is for, unique among your live tokens')
    .option('--scope <scope...>', `what it may do: ${SCOPES.join(', ')} (repeat, or comma-separate)`)
    .option('--expires <days>', `when it stops working: ${TOKEN_DAYS_MIN}–${TOKEN_DAYS_MAX} days, like 30d`)
    .option('--cidr <range...>', 'only from these address ranges, like 203.0.113.0/24 or 2001:db8::/48 (repeat)')
    .option('--password-stdin', 'read your password from the first line of stdin')
    .option('--otp <code>', 'the code from your authenticator app (or a recovery code), when two-factor is on; asked at a terminal otherwise')
    .addHelpText(
      'after',
      `
Scopes:
${SCOPES.map((scope) => `  ${scope.padEnd(14)} ${SCOPE_MEANINGS[scope]}`).join('\n')}
Everything else (passwords, the email, deleting the account, tokens) needs a session.
${examples(
  'TOKEN=$(taskmaster token create --name ci-deploy --scope account:read --expires 30d)',
  'printf %s "$PASSWORD" | taskmaster token create --name ci --scope account:read,account:write --expires 90d --cidr 203.0.113.0/24 --password-stdin',
  'TASKMASTER_TOKEN=$TOKEN taskmaster whoami',
)}`,
    )
    .action(async (options: CreateOptions, command: Command) => create(makeContext(command), options));

  token
    .command('list')
    .description('your access tokens: name, scopes, prefix, created, expires ("in 5 days" when close), last used and from where')
    .addHelpText('after', examples('taskmaster token list', 'taskmaster token list --json'))
    .action(async (_options, command: Command) => list(makeContext(command)));

  token
    .command('revoke')
    .description('revoke an access token by its ID (or the ID\'s first characters): refused from its next request on')
    .argument('<id>', 'the token ID from `taskmaster token list`')
    .addHelpText('after', examples('taskmaster token revoke 3f9c2a1e'))
    .action(async (id: string, _options, command: Command) => revoke(makeContext(command), id));
}
