// The capabilities the daemon is made of, in one list: app.ts mounts their routes, and the OpenAPI
// document (server/reference/document.ts) is built from their operations. A new capability is a
// folder with its routes, logic, schemas and operations, and one line here.
import type Router from '@koa/router';
import type { Database } from '../db/connection.js';
import type { InvalidationChannel } from '../db/channel.js';
import type { Metrics } from './metrics/metrics.js';
import type { AccountDeletion } from './accounts/deletion.js';
import type { Accounts } from './accounts/accounts.js';
import { accountRoutes } from './accounts/routes.js';
import * as accountsApi from './accounts/openapi.js';
import { activityRoutes } from './activity/routes.js';
import * as activityApi from './activity/openapi.js';
import type { OperationSpec } from './core/api-docs.js';
import type { DeviceAuthorizations } from './device/authorizations.js';
import { deviceRoutes } from './device/routes.js';
import * as deviceApi from './device/openapi.js';
import { healthRoutes } from './health/routes.js';
import * as healthApi from './health/openapi.js';
import type { Login } from './login/flow.js';
import { loginRoutes } from './login/routes.js';
import * as loginApi from './login/openapi.js';
import type { Passkeys } from './passkeys/store.js';
import { passkeyRoutes } from './passkeys/routes.js';
import * as passkeysApi from './passkeys/openapi.js';
import type { Passwords } from './passwords/passwords.js';
import { passwordRoutes } from './passwords/routes.js';
import * as passwordsApi from './passwords/openapi.js';
import { referenceRoutes } from './reference/routes.js';
import * as referenceApi from './reference/openapi.js';
import { sessionRoutes } from './sessions/routes.js';
import * as sessionsApi from './sessions/openapi.js';
import type { SessionStore } from './sessions/store.js';
import type { AccessTokens } from './tokens/store.js';
import type { TwoFactor } from './two-factor/store.js';
import { twoFactorRoutes } from './two-factor/routes.js';
import * as twoFactorApi from './two-factor/openapi.js';
import { tokenRoutes } from './tokens/routes.js';
import * as tokensApi from './tokens/openapi.js';
import { webRoutes } from './web/routes.js';
import * as webApi from './web/openapi.js';

/** The capabilities' logic, built once by server/main.ts, as the routes reach it. */
export interface Services {
  accounts: Accounts;
  login: Login;
  passwords: Passwords;
  /** Passkeys (WebAuthn): their ceremonies and management. */
  passkeys: Passkeys;
  sessions: SessionStore;
  tokens: AccessTokens;
  twoFactor: TwoFactor;
  accountDeletion: AccountDeletion;
  /** The device flow (RFC 8628): `taskmaster login --web`. */
  device: DeviceAuthorizations;
  db: Database;
  clock: () => number;
  /** PUBLIC_URL, or the bound address when none was given. */
  publicUrl: () => string;
  /** Whether the cache invalidation channel listens (PostgreSQL's LISTEN connection), for /readyz. */
  invalidations: Pick<InvalidationChannel, 'live'>;
  /** The Prometheus metrics when METRICS_PORT is set (the request frame and the token check count into them). */
  metrics?: Metrics | undefined;
}

export interface Capability {
  name: string;
  /** Mounts its routes. */
  mount(router: Router, services: Services): void;
  /** Its tags (name → what they cover) and operations, for the OpenAPI document. */
  tags: Record<string, string>;
  operations: OperationSpec[];
}

export const CAPABILITIES: readonly Capability[] = [
  { name: 'health', mount: healthRoutes, ...healthApi },
  { name: 'accounts', mount: accountRoutes, ...accountsApi },
  { name: 'login', mount: loginRoutes, ...loginApi },
  { name: 'sessions', mount: sessionRoutes, ...sessionsApi },
  { name: 'tokens', mount: tokenRoutes, ...tokensApi },
  { name: 'two-factor', mount: twoFactorRoutes, ...twoFactorApi },
  { name: 'device', mount: deviceRoutes, ...deviceApi },
  { name: 'passkeys', mount: passkeyRoutes, ...passkeysApi },
  { name: 'passwords', mount: passwordRoutes, ...passwordsApi },
  { name: 'activity', mount: activityRoutes, ...activityApi },
  { name: 'web', mount: webRoutes, ...webApi },
  { name: 'reference', mount: referenceRoutes, ...referenceApi },
];
