// Daemon configuration: read once from flags and environment (flags win), validated, passed down.
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import proxyaddr from 'proxy-addr';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Base of links in emails; undefined means http://HOST:PORT of the bound socket. */
  publicUrl: string | undefined;
  bcryptCost: number;
  logLevel: string;
  /** Whom to believe about the client address in X-Forwarded-For; false: nobody (the socket's address counts). */
  trustProxy: TrustProxy;
}

/** A number of proxy hops in front of the daemon, or the addresses (and subnets) of the proxies. */
export type TrustProxy = false | { hops: number } | { addresses: string[] };

export class ConfigError extends Error {}

export const DAEMON_HELP = `taskmasterd — the TaskMaster account daemon

Usage: taskmasterd [options]           run the daemon
       taskmasterd migrate [options]   apply pending database migrations, then exit

Options (each also read from the environment; a flag wins over its variable):
  --port N            PORT                 TCP port; 0 picks a free one      (default 4000)
  --host ADDR         HOST                 bind address                      (default 127.0.0.1)
  --data-dir DIR      TASKMASTER_DATA_DIR  SQLite file and mail outbox       (default ./data)
  --database-url URL  DATABASE_URL         sqlite://PATH, or postgres://user:pass@host:5432/db (?sslmode=require)
                                           for several daemons     (default sqlite://<data dir>/taskmaster.sqlite3)
  --smtp-url URL      SMTP_URL             smtp://[user:pass@]host:port; unset writes mail to <data dir>/outbox/
  --public-url URL    PUBLIC_URL           base of links in emails           (default http://HOST:PORT)
                      MAIL_FROM            sender                            (default TaskMaster <no-reply@taskmaster.local>)
  --trust-proxy X     TRUST_PROXY          proxies whose X-Forwarded-For is believed: a hop count, or a
                                           comma list of addresses/subnets (default off: the socket's address)
                      BCRYPT_COST          bcrypt work factor, 10 or more    (default 12)
                      LOG_LEVEL            info, warn, error or silent       (default info)
                      UV_THREADPOOL_SIZE   threads for bcrypt and SQLite     (default cores + 2)
  -h, --help          show this help
  -v, --version       show the version

On start it applies pending database migrations and prints "listening on http://HOST:PORT".
SIGTERM or SIGINT stops it cleanly.`;

export type ConfigResult = { kind: 'run' | 'migrate'; config: Config } | { kind: 'help' } | { kind: 'version' };

/** TRUST_PROXY: off (unset, 0, false), a hop count, or a comma list of proxy addresses or subnets. */
export function parseTrustProxy(text: string | undefined): TrustProxy {
  if (text === undefined || /^(0|false|off|no)$/i.test(text.trim())) return false;
  if (/^\d+$/.test(text.trim())) return { hops: Number(text.trim()) };
  const addresses = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  try {
    proxyaddr.compile(addresses);
  } catch (error) {
    throw new ConfigError(`TRUST_PROXY must be a number of proxy hops or a comma list of proxy addresses (${(error as Error).message})`);
  }
  if (addresses.length === 0) throw new ConfigError('TRUST_PROXY must be a number of proxy hops or a comma list of proxy addresses');
  return { addresses };
}

export function readConfig(argv: string[], env: Record<string, string | undefined>): ConfigResult {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        'smtp-url': { type: 'string' },
        'public-url': { type: 'string' },
        'trust-proxy': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const [command, ...extra] = positionals;
  if (command !== undefined && command !== 'migrate') throw new ConfigError(`unknown command "${command}" (the only command is "migrate")`);
  if (extra.length > 0) throw new ConfigError(`unexpected argument "${extra[0]}"`);

  const pick = (flag: string | undefined, name: string): string | undefined => {
    const value = flag ?? env[name];
    return value === undefined || value === '' ? undefined : value;
  };

  const portText = pick(values.port, 'PORT') ?? '4000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(`port must be a number from 0 to 65535 (got "${portText}")`);

  const dataDir = resolve(pick(values['data-dir'], 'TASKMASTER_DATA_DIR') ?? './data');
  const databaseUrl = pick(values['database-url'], 'DATABASE_URL') ?? `sqlite://${join(dataDir, 'taskmaster.sqlite3')}`;
  if (!/^(sqlite|postgres|postgresql):\/\/./.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be sqlite://PATH or postgres://user:password@host:port/database');
  }

  const smtpUrl = pick(values['smtp-url'], 'SMTP_URL');
  if (smtpUrl !== undefined && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('SMTP_URL must look like smtp://[user:pass@]host:port');

  const publicUrl = pick(values['public-url'], 'PUBLIC_URL')?.replace(/\/+$/, '');
  if (publicUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(publicUrl)) throw new ConfigError('PUBLIC_URL must be an http:// or https:// URL');

  const costText = pick(undefined, 'BCRYPT_COST') ?? '12';
  const bcryptCost = Number(costText);
  if (!/^\d+$/.test(costText) || bcryptCost < 4 || bcryptCost > 31) throw new ConfigError(`BCRYPT_COST must be a whole number from 4 to 31 (got "${costText}")`);

  const logLevel = pick(undefined, 'LOG_LEVEL') ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be info, warn, error or silent (got "${logLevel}")`);

  const trustProxy = parseTrustProxy(pick(values['trust-proxy'], 'TRUST_PROXY'));

  return {
    kind: command === 'migrate' ? 'migrate' : 'run',
    config: {
      port,
      host: pick(values.host, 'HOST') ?? '127.0.0.1',
      dataDir,
      databaseUrl,
      smtpUrl,
      mailFrom: pick(undefined, 'MAIL_FROM') ?? 'TaskMaster <no-reply@taskmaster.local>',
      publicUrl,
      bcryptCost,
      logLevel,
      trustProxy,
    },
  };
}
