// Daemon configuration: read once from flags and environment (flags win), validated, passed down.
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';

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
}

export class ConfigError extends Error {}

export const DAEMON_HELP = `taskmasterd — the TaskMaster account daemon

Usage: taskmasterd [options]

Options (each also read from the environment; a flag wins over its variable):
  --port N            PORT                 TCP port; 0 picks a free one      (default 4000)
  --host ADDR         HOST                 bind address                      (default 127.0.0.1)
  --data-dir DIR      TASKMASTER_DATA_DIR  SQLite file and mail outbox       (default ./data)
  --database-url URL  DATABASE_URL         sqlite://PATH                     (default sqlite://<data dir>/taskmaster.sqlite3)
  --smtp-url URL      SMTP_URL             smtp://[user:pass@]host:port; unset writes mail to <data dir>/outbox/
  --public-url URL    PUBLIC_URL           base of links in emails           (default http://HOST:PORT)
                      MAIL_FROM            sender                            (default TaskMaster <no-reply@taskmaster.local>)
                      BCRYPT_COST          bcrypt work factor, 10 or more    (default 12)
                      LOG_LEVEL            info, warn, error or silent       (default info)
                      UV_THREADPOOL_SIZE   threads for bcrypt and SQLite     (default cores + 2)
  -h, --help          show this help
  -v, --version       show the version

On start it applies pending database migrations and prints "listening on http://HOST:PORT".
SIGTERM or SIGINT stops it cleanly.`;

export type ConfigResult = { kind: 'run'; config: Config } | { kind: 'help' } | { kind: 'version' };

export function readConfig(argv: string[], env: Record<string, string | undefined>): ConfigResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        'smtp-url': { type: 'string' },
        'public-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  const pick = (flag: string | undefined, name: string): string | undefined => {
    const value = flag ?? env[name];
    return value === undefined || value === '' ? undefined : value;
  };

  const portText = pick(values.port, 'PORT') ?? '4000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(`port must be a number from 0 to 65535 (got "${portText}")`);

  const dataDir = resolve(pick(values['data-dir'], 'TASKMASTER_DATA_DIR') ?? './data');
  const databaseUrl = pick(values['database-url'], 'DATABASE_URL') ?? `sqlite://${join(dataDir, 'taskmaster.sqlite3')}`;
  if (!/^(sqlite|postgres|postgresql):\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be sqlite://PATH (postgres:// comes later)');
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

  return {
    kind: 'run',
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
    },
  };
}
