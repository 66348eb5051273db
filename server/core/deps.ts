// What every capability's logic needs, injected once by server/main.ts (tests inject their own clock).
import type { Logger } from 'pino';
import type { InvalidationChannel } from '../../db/channel.js';
import type { Database } from '../../db/connection.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RandomToken } from './secrets.js';
import type { Throttle } from './throttle.js';

export interface ServiceDeps {
  db: Database;
  clock: () => number;
  random: RandomToken;
  bcryptCost: number;
  /** Base of links in emails; known only once the socket is bound when port 0 was asked. */
  publicUrl: () => string;
  /** Wakes the mail sender after a mail was queued. */
  mailQueued: () => void;
  throttle: Throttle;
  /** Tells the other daemons' caches what changed (see server/sessions/store.ts). */
  invalidations: InvalidationChannel;
  /** SUPPORT_EMAIL: named in security notices only when the operator set one. */
  supportEmail?: string | undefined;
  log: Logger;
  /** The Prometheus metrics, when METRICS_PORT is set (server/metrics/); undefined: none are counted. */
  metrics?: Metrics | undefined;
}
