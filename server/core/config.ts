// Daemon configuration: read once from flags and environment (flags win), validated, passed down.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import proxyaddr from 'proxy-addr';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  /** SMTP_URL as given (it may hold a password: never log it); undefined: the embedded outbox folder. */
  smtpUrl: string | undefined;
  /** SMTP_URL taken apart, with the password, the CA file and the TLS rule resolved. */
  smtp: SmtpSettings | undefined;
  mailFrom: string;
  /** Named in security notices ("write to …") only when set. */
  supportEmail: string | undefined;
  /** Base of links in emails; undefined means http://HOST:PORT of the bound socket. */
  publicUrl: string | undefined;
  bcryptCost: number;
  logLevel: string;
  /** Whom to believe about the client address in X-Forwarded-For; false: nobody (the socket's address counts). */
  trustProxy: TrustProxy;
  /** Things worth a warning at start (the daemon logs them; --check-mail prints them). */
  warnings: string[];
  /** TOTP_ENCRYPTION_KEY(_FILE): the key two-factor secrets are encrypted with; undefined: see server/two-factor/key.ts. */
  totpKey: Buffer | undefined;
  /** METRICS_PORT: where GET /metrics listens (0 picks a free port); undefined: no metrics at all. */
  metricsPort: number | undefined;
  /** METRICS_HOST: the metrics listener's bind address. */
  metricsHost: string;
}

export interface SmtpSettings {
  /** smtps://: TLS from the first byte (port 465). smtp://: plaintext first, then STARTTLS. */
  implicitTls: boolean;
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  /** STARTTLS must succeed before anything is sent: smtp:// to any host that is not loopback. */
  requireTls: boolean;
  /** SMTP_INSECURE: plaintext allowed and certificates not checked. */
  insecure: boolean;
  /** The host is this machine (localhost, 127.0.0.0/8, ::1): mail to it never crosses a network. */
  loopback: boolean;
  /** PEM text of the CA certificates to trust (SMTP_TLS_CA_FILE) instead of the system's; undefined with SMTP_INSECURE, which ignores it. */
  ca: string | undefined;
  /**
   * How the server's certificate is checked: against the system's CAs and the host name; against
   * SMTP_TLS_CA_FILE and the host name; against SMTP_TLS_CA_FILE only ('ca-file-chain', on loopback,
   * where a server's certificate names the server, never 127.0.0.1); or not at all ('none': SMTP_INSECURE,
   * or loopback without SMTP_TLS_CA_FILE, where TLS is opportunistic as between mail servers).
   */
  certificates: 'system' | 'ca-file' | 'ca-file-chain' | 'none';
  /** EHLO name: PUBLIC_URL's host; undefined lets nodemailer use the machine's name. */
  ehloName: string | undefined;
}

/** A number of proxy hops in front of the daemon, or the addresses (and subnets) of the proxies. */
export type TrustProxy = false | { hops: number } | { addresses: string[] };

export class ConfigError extends Error {}

export const DAEMON_HELP = `taskmasterd — the TaskMaster account daemon

Usage: taskmasterd [options]                      run the daemon
       taskmasterd migrate [options]              apply pending database migrations, then exit
       taskmasterd --check-mail ADDR [options]    send a test message, then exit
       taskmasterd users ACTION [ACCOUNT] [options]  find, show, disable, enable, unlock or delete
                                                  accounts, resend a verification mail
                                                  (taskmasterd users --help)

Options (each also read from the environment; a flag wins over its variable):
  --port N            PORT                 TCP port; 0 picks a free one      (default 4000)
  --host ADDR         HOST                 bind address                      (default 127.0.0.1)
  --data-dir DIR      TASKMASTER_DATA_DIR  SQLite file and mail outbox       (default ./data)
  --database-url URL  DATABASE_URL         sqlite://PATH, or postgres://user:pass@host:5432/db (?sslmode=require)
                                           for several daemons     (default sqlite://<data dir>/taskmaster.sqlite3)
  --public-url URL    PUBLIC_URL           base of links in emails; its host is the EHLO name (default http://HOST:PORT)
  --trust-proxy X     TRUST_PROXY          proxies whose X-Forwarded-For is believed: a hop count, or a
                                           comma list of addresses/subnets (default off: the socket's address)
                      BCRYPT_COST          bcrypt work factor, 10 or more    (default 12)
                      LOG_LEVEL            info, warn, error or silent       (default info)
                      UV_THREADPOOL_SIZE   threads for bcrypt and SQLite     (default cores + 2)
                      TOTP_ENCRYPTION_KEY  64 hex characters (32 bytes): encrypts two-factor secrets; on SQLite
                                           a key file is made in the data folder when unset; every PostgreSQL
                                           daemon needs the same one
                      TOTP_ENCRYPTION_KEY_FILE  a file holding that key instead
  -h, --help          show this help
  -v, --version       show the version

Mail (unset SMTP_URL: every mail is written to <data dir>/outbox/ and its link logged):
  --smtp-url URL      SMTP_URL             smtps://[user@]host:465 (TLS), or smtp://[user@]host:587 (STARTTLS);
                                           user and password URL-encoded (@ is %40)
                      SMTP_PASSWORD        the SMTP password, instead of the one in SMTP_URL
                      SMTP_PASSWORD_FILE   a file holding the SMTP password (one line)
                      SMTP_TLS_CA_FILE     PEM file of the CA certificates to trust (e.g. a self-signed server)
  --smtp-insecure     SMTP_INSECURE=1      allow plaintext and unchecked certificates (TLS is required for
                                           any host that is not loopback); logs a warning
                      MAIL_FROM            sender               (default TaskMaster <no-reply@PUBLIC_URL's host>)
                      SUPPORT_EMAIL        named in security notices when set (default: none)
  --check-mail ADDR                        send one test message to ADDR with these settings, say what
                                           happened, exit 0 (accepted) or 1 (not); needs no database

Metrics and readiness (GET /healthz: alive; GET /readyz: ready for traffic, on the main port):
  --metrics-port N    METRICS_PORT         serve Prometheus metrics at http://METRICS_HOST:N/metrics, on a
                                           listener of its own; 0 picks a free one (default off)
  --metrics-host ADDR METRICS_HOST         the metrics listener's bind address       (default 127.0.0.1)

On start it applies pending database migrations and prints "listening on http://HOST:PORT";
a start that fails (a taken port, an unreachable database) prints why and exits 1.
SIGTERM or SIGINT stops it cleanly.`;

/** `taskmasterd users ACTION [ACCOUNT] [flags]`, as given: server/operators/command.ts checks it. */
export interface UsersArgs {
  /** The words after `users`: the action, then the account. */
  words: string[];
  json: boolean;
  yes: boolean;
  query: string | undefined;
  unverified: boolean;
  disabled: boolean;
  limit: string | undefined;
  after: string | undefined;
}

export type ConfigResult =
  | { kind: 'run' | 'migrate'; config: Config }
  | { kind: 'users'; config: Config; users: UsersArgs }
  | { kind: 'users-help' }
  | { kind: 'check-mail'; config: Config; to: string }
  | { kind: 'help' }
  | { kind: 'version' };

const ADDRESS = /^[^\s<>@]+@[^\s<>@]+$/;

/** True for a host that is this machine by name or address: mail to it never crosses a network. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name === 'localhost.') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || /^::ffff:127\./.test(name);
  return false;
}

/** A URL host as an SMTP address literal when it is an IP (RFC 5321 §4.1.3), else the name itself. */
function ehloNameOf(hostname: string): string {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return `[${bare}]`;
  if (isIP(bare) === 6) return `[IPv6:${bare}]`;
  return bare;
}

function readBoolean(text: string | undefined, name: string): boolean {
  if (text === undefined) return false;
  if (/^(1|true|yes|on)$/i.test(text.trim())) return true;
  if (/^(0|false|no|off)$/i.test(text.trim())) return false;
  throw new ConfigError(`${name} must be 1 or 0 (got "${text}")`);
}

function readSecretFile(path: string, name: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return text;
}

/** 32 bytes as 64 hex characters, from the variable or the file it names (never both). */
function readTotpKey(text: string | undefined, file: string | undefined): Buffer | undefined {
  if (text !== undefined && file !== undefined) throw new ConfigError('give the TOTP encryption key once: TOTP_ENCRYPTION_KEY and TOTP_ENCRYPTION_KEY_FILE are both set');
  const hex = (file !== undefined ? readSecretFile(file, 'TOTP_ENCRYPTION_KEY_FILE') : text)?.trim();
  if (hex === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(`${file !== undefined ? 'TOTP_ENCRYPTION_KEY_FILE' : 'TOTP_ENCRYPTION_KEY'} must hold 64 hex characters (32 bytes), e.g. from \`openssl rand -hex 32\``);
  return Buffer.from(hex, 'hex');
}

interface SmtpSources {
  url: string;
  urlFromFlag: boolean;
  password: string | undefined;
  passwordFile: string | undefined;
  caFile: string | undefined;
  insecure: boolean;
  publicUrl: string | undefined;
}

/** SMTP_URL and its companions, checked together; never echoes the URL, which may hold a password. */
function readSmtpSettings(sources: SmtpSources, warnings: string[]): SmtpSettings {
  const shape = 'SMTP_URL must look like smtps://[user@]host:465 or smtp://[user@]host:587';
  let url: URL;
  try {
    url = new URL(sources.url);
  } catch {
    throw new ConfigError(shape);
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError(shape);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new ConfigError(`${shape} (the host is missing)`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`${shape}, with no path or ?options (TLS settings are SMTP_TLS_CA_FILE and SMTP_INSECURE)`);
  }
  let user: string | undefined;
  let urlPassword: string | undefined;
  try {
    user = url.username === '' ? undefined : decodeURIComponent(url.username);
    urlPassword = url.password === '' ? undefined : decodeURIComponent(url.password);
  } catch {
    throw new ConfigError('SMTP_URL: the user or password is not valid URL-encoding (write @ as %40, : as %3A, / as %2F, % as %25)');
  }
  const given = [urlPassword !== undefined && 'the password in SMTP_URL', sources.password !== undefined && 'SMTP_PASSWORD', sources.passwordFile !== undefined && 'SMTP_PASSWORD_FILE'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(`give the SMTP password once: ${given.join(' and ')} are both set`);
  let password = urlPassword ?? sources.password;
  if (sources.passwordFile !== undefined) {
    // One line, as secret stores write it: the trailing newline is not part of the password.
    password = readSecretFile(sources.passwordFile, 'SMTP_PASSWORD_FILE').replace(/\r?\n$/, '');
    if (password === '') throw new ConfigError(`SMTP_PASSWORD_FILE: ${sources.passwordFile} is empty`);
  }
  if (password !== undefined && user === undefined) throw new ConfigError('an SMTP password needs a user name in SMTP_URL: smtp://USER@host:587');
  if (user !== undefined && password === undefined) throw new ConfigError('SMTP_URL names a user but no password is set: use SMTP_PASSWORD_FILE or SMTP_PASSWORD');
  if (urlPassword !== undefined && sources.urlFromFlag) {
    warnings.push('the SMTP password in --smtp-url is visible to every user of this machine (ps); use SMTP_PASSWORD_FILE or SMTP_PASSWORD instead');
  }

  let ca: string | undefined;
  if (sources.caFile !== undefined && sources.insecure) {
    // Not read: a file nothing uses must not stop the start, but its owner must know it does nothing.
    warnings.push(`SMTP_TLS_CA_FILE is ignored: SMTP_INSECURE turns certificate checks off (unset SMTP_INSECURE to check the server's certificate against ${sources.caFile})`);
  } else if (sources.caFile !== undefined) {
    ca = readSecretFile(sources.caFile, 'SMTP_TLS_CA_FILE');
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`SMTP_TLS_CA_FILE: ${sources.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }

  const implicitTls = url.protocol === 'smtps:';
  const port = url.port === '' ? (implicitTls ? 465 : 587) : Number(url.port);
  if (sources.insecure) {
    warnings.push(
      `SMTP_INSECURE is set: mail to ${host} may travel in plaintext and to a server whose certificate is not checked; anyone on the way can read the links and tokens in it`,
    );
  }
  const loopback = isLoopbackHost(host);
  // On loopback TLS only keeps other local users from reading the traffic: a stock mail server's
  // certificate (Debian's snakeoil, or one named for the machine) is encrypted with, not checked.
  const certificates = sources.insecure ? 'none' : ca === undefined ? (loopback ? 'none' : 'system') : loopback ? 'ca-file-chain' : 'ca-file';
  return {
    implicitTls,
    host,
    port,
    user,
    password,
    requireTls: !implicitTls && !sources.insecure && !loopback,
    insecure: sources.insecure,
    loopback,
    ca,
    certificates,
    ehloName: sources.publicUrl === undefined ? undefined : ehloNameOf(new URL(sources.publicUrl).hostname),
  };
}

/** `TaskMaster <no-reply@HOST>` for PUBLIC_URL's host when it is a name (an address makes a poor mail domain). */
function defaultMailFrom(publicUrl: string | undefined): string {
  const hostname = publicUrl === undefined ? '' : new URL(publicUrl).hostname;
  const domain = hostname === '' || isIP(hostname.replace(/^\[|\]$/g, '')) !== 0 ? 'taskmaster.local' : hostname.replace(/\.$/, '');
  return `TaskMaster <no-reply@${domain}>`;
}

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

const DAEMON_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'smtp-url': { type: 'string' },
  'public-url': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'smtp-insecure': { type: 'boolean' },
  'check-mail': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** The flags of `taskmasterd users`, beside the daemon's own (which it reads the same way). */
const USERS_OPTIONS = {
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  query: { type: 'string', short: 'q' },
  unverified: { type: 'boolean' },
  disabled: { type: 'boolean' },
  limit: { type: 'string' },
  after: { type: 'string' },
} as const;

/** The first word that is not an option or an option's value: the command. */
function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv[i + 1];
    if (!arg.startsWith('-')) return arg;
    const name = arg.replace(/^--?/, '');
    const option = (DAEMON_OPTIONS as Record<string, { type: string }>)[name];
    if (option?.type === 'string' && !arg.includes('=')) i++;
  }
  return undefined;
}

/** METRICS_PORT (off when unset or "off") and METRICS_HOST; the port may not be the API's. */
function readMetricsListener(portText: string | undefined, host: string | undefined, apiPort: number, warnings: string[]): { metricsPort: number | undefined; metricsHost: string } {
  const metricsHost = (host ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  if (portText === undefined || /^(off|no|false)$/i.test(portText.trim())) {
    if (host !== undefined) warnings.push('METRICS_HOST is set but METRICS_PORT is not: no metrics are served (set METRICS_PORT to serve them)');
    return { metricsPort: undefined, metricsHost };
  }
  const metricsPort = Number(portText);
  if (!/^\d+$/.test(portText) || metricsPort > 65535) throw new ConfigError(`METRICS_PORT must be a number from 0 to 65535, or off (got "${portText}")`);
  if (metricsPort !== 0 && metricsPort === apiPort) throw new ConfigError(`METRICS_PORT must differ from PORT (both are ${metricsPort}): the metrics have a listener of their own`);
  return { metricsPort, metricsHost };
}

export function readConfig(argv: string[], env: Record<string, string | undefined>): ConfigResult {
  const users = commandWord(argv) === 'users';
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: users ? { ...DAEMON_OPTIONS, ...USERS_OPTIONS } : DAEMON_OPTIONS }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (users && values.help) return { kind: 'users-help' };
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const [command, ...extra] = positionals;
  if (command !== undefined && command !== 'migrate' && command !== 'users') throw new ConfigError(`unknown command "${command}" (the commands are "migrate" and "users")`);
  if (extra.length > 0 && command !== 'users') throw new ConfigError(`unexpected argument "${extra[0]}"`);
  const checkMailTo = values['check-mail']?.trim();
  if (checkMailTo !== undefined) {
    if (command !== undefined) throw new ConfigError('--check-mail runs on its own, not with a command');
    if (!ADDRESS.test(checkMailTo)) throw new ConfigError(`--check-mail needs an email address (got "${checkMailTo}")`);
  }

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

  const publicUrl = pick(values['public-url'], 'PUBLIC_URL')?.replace(/\/+$/, '');
  if (publicUrl !== undefined && (!/^https?:\/\/[^\s]+$/.test(publicUrl) || !URL.canParse(publicUrl))) throw new ConfigError('PUBLIC_URL must be an http:// or https:// URL');

  const warnings: string[] = [];
  const smtpUrl = pick(values['smtp-url'], 'SMTP_URL');
  const smtpSources = {
    password: pick(undefined, 'SMTP_PASSWORD'),
    passwordFile: pick(undefined, 'SMTP_PASSWORD_FILE'),
    caFile: pick(undefined, 'SMTP_TLS_CA_FILE'),
    insecure: values['smtp-insecure'] === true || readBoolean(pick(undefined, 'SMTP_INSECURE'), 'SMTP_INSECURE'),
  };
  if (smtpUrl === undefined) {
    const stray = Object.entries({ SMTP_PASSWORD: smtpSources.password, SMTP_PASSWORD_FILE: smtpSources.passwordFile, SMTP_TLS_CA_FILE: smtpSources.caFile }).find(([, value]) => value !== undefined);
    if (stray) warnings.push(`${stray[0]} is set but SMTP_URL is not: mail goes to the outbox folder`);
  }
  const smtp = smtpUrl === undefined ? undefined : readSmtpSettings({ url: smtpUrl, urlFromFlag: values['smtp-url'] !== undefined, publicUrl, ...smtpSources }, warnings);

  const mailFrom = pick(undefined, 'MAIL_FROM') ?? defaultMailFrom(publicUrl);
  if (!ADDRESS.test(mailFrom) && !/^[^<>]*<[^\s<>@]+@[^\s<>@]+>$/.test(mailFrom)) throw new ConfigError(`MAIL_FROM must be an address, or "Name <address>" (got "${mailFrom}")`);
  const supportEmail = pick(undefined, 'SUPPORT_EMAIL')?.trim();
  if (supportEmail !== undefined && !ADDRESS.test(supportEmail)) throw new ConfigError(`SUPPORT_EMAIL must be an email address (got "${supportEmail}")`);

  const costText = pick(undefined, 'BCRYPT_COST') ?? '12';
  const bcryptCost = Number(costText);
  if (!/^\d+$/.test(costText) || bcryptCost < 4 || bcryptCost > 31) throw new ConfigError(`BCRYPT_COST must be a whole number from 4 to 31 (got "${costText}")`);

  const logLevel = pick(undefined, 'LOG_LEVEL') ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be info, warn, error or silent (got "${logLevel}")`);

  const trustProxy = parseTrustProxy(pick(values['trust-proxy'], 'TRUST_PROXY'));
  const totpKey = readTotpKey(pick(undefined, 'TOTP_ENCRYPTION_KEY'), pick(undefined, 'TOTP_ENCRYPTION_KEY_FILE'));
  const { metricsPort, metricsHost } = readMetricsListener(pick(values['metrics-port'], 'METRICS_PORT'), pick(values['metrics-host'], 'METRICS_HOST'), port, warnings);

  const host = pick(values.host, 'HOST') ?? '127.0.0.1';
  if (publicUrl === undefined && !isLoopbackHost(host.replace(/^\[|\]$/g, ''))) {
    warnings.push(
      `PUBLIC_URL is not set while listening on ${host}: links in mail, the /device page of \`taskmaster login --web\` and the web forms' origin check all use http://${host}:PORT; set PUBLIC_URL to the address people reach this server at`,
    );
  }

  const config: Config = {
    port,
    host,
    dataDir,
    databaseUrl,
    smtpUrl,
    smtp,
    mailFrom,
    supportEmail,
    publicUrl,
    bcryptCost,
    logLevel,
    trustProxy,
    warnings,
    totpKey,
    metricsPort,
    metricsHost,
  };
  if (checkMailTo !== undefined) return { kind: 'check-mail', config, to: checkMailTo };
  if (command === 'users') {
    const flags = values as Partial<Record<keyof typeof USERS_OPTIONS, string | boolean>>;
    const text = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined);
    return {
      kind: 'users',
      config,
      users: {
        words: extra,
        json: flags.json === true,
        yes: flags.yes === true,
        query: text(flags.query),
        unverified: flags.unverified === true,
        disabled: flags.disabled === true,
        limit: text(flags.limit),
        after: text(flags.after),
      },
    };
  }
  return { kind: command === 'migrate' ? 'migrate' : 'run', config };
}
