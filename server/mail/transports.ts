// Where mail goes: real SMTP when SMTP_URL is set, else .eml files in <data dir>/outbox/.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionOptions, TLSSocket } from 'node:tls';

import nodemailer, { type SendMailOptions } from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Logger } from 'pino';
import type { Config, SmtpSettings } from '../core/config.js';
import { SmtpPool } from './smtp-pool.js';

export interface OutgoingMail {
  id: number;
  /** Stable for the outbox row (the same on a retry), so a receiver can spot a mail sent twice. */
  messageId: string;
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  link: string | null;
}

export interface MailTransport {
  /** Resolves with what the receiver said (the SMTP reply, or where the file went); throws MailDeliveryError. */
  deliver(mail: OutgoingMail): Promise<string>;
  /** Connects (and logs in) without sending: a start-up check. */
  verify(): Promise<void>;
  /** Ends the connections it keeps, politely (SMTP QUIT); resolves once they have ended, within a few seconds. */
  close(): Promise<void>;
}

/**
 * The message as RFC 5322 text. Our mails are plain ASCII, so both parts go as 7bit with lines up
 * to RFC 5322's 998: the link and the token stay whole on their lines in the raw message (which
 * nodemailer would fold as quoted-printable past 76 characters), so a .eml is readable as it is.
 * Anything else is left to nodemailer's own composer.
 */
function message(from: string, mail: OutgoingMail): SendMailOptions {
  const fields = [from, mail.to, mail.subject, mail.text, mail.html];
  const plain = fields.every((field) => /^[\x09\x0A\x0D\x20-\x7E]*$/.test(field) && field.split('\n').every((line) => line.length < 990));
  const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'taskmaster.local';
  const messageId = `<outbox.${mail.messageId}@${domain}>`;
  if (!plain) return { from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId };
  const boundary = `taskmaster-${randomUUID()}`;
  const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
  const raw = [
    `From: ${from}`,
    `To: ${mail.to}`,
    `Subject: ${mail.subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    crlf(mail.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    crlf(mail.html),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  return { envelope: { from: address, to: [mail.to] }, raw };
}

/**
 * Why a delivery failed, in words safe to log: the SMTP reply (code and text) and the command it
 * answered, or the TLS, DNS or connection error code. `permanent`: retrying as things are cannot
 * help (a 5xx, a refused login, a rejected certificate); someone has to change something first.
 */
export class MailDeliveryError extends Error {
  constructor(
    readonly reason: string,
    readonly permanent: boolean,
    readonly details: { smtpCode?: number; errorCode?: string; command?: string; hint?: string } = {},
  ) {
    super(reason);
  }
}

/** Node's codes for a certificate that does not verify, and for a TLS handshake that cannot work. */
const CERTIFICATE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|ALTNAME|HOSTNAME|^ERR_SSL_|^ERR_TLS_/;
/** A server that speaks TLS on connect reached with smtp://, or the other way round. */
const WRONG_TLS_MODE = /SSL_WRONG_VERSION|WRONG_VERSION_NUMBER/;

/** True when a delivery failed on the server's certificate (not on the TLS mode): worth naming the certificate (see peekCertificate). */
export function isCertificateFailure(failure: MailDeliveryError): boolean {
  const code = failure.details.errorCode ?? '';
  return failure.reason.startsWith('TLS: ') && CERTIFICATE_CODES.test(code) && !WRONG_TLS_MODE.test(code + failure.reason);
}

/** A refusal that names the recipient's mailbox (RFC 3463 X.1.x addressing, X.2.x mailbox status, or the words of one), not the sender. */
function refusesTheMailbox(reply: string): boolean {
  return /^\d{3}[ -][245]\.[12]\.\d{1,3}\b/.test(reply) || /unknown|no such|not exist|not found|mailbox (is )?(full|unavailable|disabled)/i.test(reply);
}

/** Removes every form a secret could take in an error text: as is, URL-encoded, base64 (AUTH PLAIN/LOGIN), and any user:password@ in a URL. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  let clean = text.replace(/\/\/[^/\s@]*:[^/\s@]*@/g, '//***@');
  for (const secret of secrets) {
    if (!secret) continue;
    const forms = [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')];
    for (const form of forms) if (form.length >= 3) clean = clean.split(form).join('***');
  }
  return clean;
}

/** Turns what nodemailer threw into a MailDeliveryError; `secrets` never appear in the result. */
export function describeSmtpError(error: unknown, settings: Pick<SmtpSettings, 'host' | 'port' | 'user' | 'password' | 'requireTls' | 'implicitTls' | 'ca'>): MailDeliveryError {
  const { code, originalCode, command, response, responseCode, message } = (error ?? {}) as {
    code?: string;
    originalCode?: string;
    command?: string;
    response?: string;
    responseCode?: number;
    message?: string;
  };
  const secrets = [settings.password, settings.user && settings.password ? `\u0000${settings.user}\u0000${settings.password}` : undefined];
  const clean = (text: string) => redact(text, secrets).replace(/\s+/g, ' ').trim().slice(0, 300);
  const at = command && command !== 'CONN' && command !== 'API' ? ` (answer to ${command})` : '';

  if (code === 'ENOSTARTTLS') {
    // STARTTLS is sent only when the EHLO answer offers it (smtp-pool.ts): the server was never asked.
    return new MailDeliveryError('the server does not offer STARTTLS (its EHLO answer does not list it), and TLS is required for a host that is not loopback', true, {
      errorCode: code,
      hint: 'turn STARTTLS on in the server, use smtps:// if it speaks TLS on connect (port 465), or set SMTP_INSECURE=1 to send in plaintext',
    });
  }
  if (typeof responseCode === 'number' && response) {
    const reply = clean(response);
    if (code === 'ETLS' || command === 'STARTTLS') {
      return new MailDeliveryError(`the server offered STARTTLS, then refused it: ${reply}`, responseCode >= 500, {
        smtpCode: responseCode,
        errorCode: code,
        command,
        hint: 'look in the server\'s log (its TLS certificate or key may be missing); use smtps:// if the server speaks TLS on connect (port 465)',
      });
    }
    const hint =
      responseCode === 535 || code === 'EAUTH'
        ? 'check the user in SMTP_URL and the password (SMTP_PASSWORD, SMTP_PASSWORD_FILE, or URL-encoded in SMTP_URL)'
        : command === 'MAIL FROM'
          ? 'check that MAIL_FROM is an address this server lets you send from'
          : command === 'RCPT TO' && responseCode >= 500 && settings.user === undefined && !refusesTheMailbox(reply)
            ? 'the server probably wants a login first: put the user in SMTP_URL (smtp://USER@host:587) and the password in SMTP_PASSWORD_FILE'
            : undefined;
    return new MailDeliveryError(`SMTP ${reply}${at}`, responseCode >= 500, { smtpCode: responseCode, errorCode: code, command, ...(hint ? { hint } : {}) });
  }

  const systemCode = originalCode ?? code;
  const text = clean(String(message ?? error));
  if (systemCode && CERTIFICATE_CODES.test(systemCode)) {
    return new MailDeliveryError(`TLS: ${systemCode}: ${text}`, true, {
      errorCode: systemCode,
      hint: WRONG_TLS_MODE.test(systemCode + text)
        ? settings.implicitTls
          ? 'the server does not speak TLS on connect: use smtp:// (STARTTLS) for this port, usually 587'
          : 'the server speaks TLS on connect: use smtps:// for this port, usually 465'
        : /ALTNAME|HOSTNAME/.test(systemCode)
          ? `the server's certificate does not name ${settings.host}: use a host name in SMTP_URL that the certificate names`
          : /EXPIRED|NOT_YET_VALID/.test(systemCode)
            ? 'the server\'s certificate is out of its validity dates: renew it on the server'
            : settings.ca !== undefined
              ? 'SMTP_TLS_CA_FILE does not vouch for this server\'s certificate: give the CA certificate that issued it'
              : 'the server\'s certificate is not trusted: give its CA certificate in SMTP_TLS_CA_FILE, and use the host name the certificate names',
    });
  }
  if (code === 'EAUTH') {
    return new MailDeliveryError(`SMTP login: ${text}`, true, { errorCode: code, command, hint: 'check the user in SMTP_URL and the SMTP password' });
  }
  if (code === 'EDNS') {
    // NXDOMAIN (ENOTFOUND) is an answer: the name does not exist until someone fixes it. EAI_AGAIN and the like may pass.
    const noSuchName = systemCode === 'ENOTFOUND';
    return new MailDeliveryError(`DNS: ${systemCode}: cannot resolve ${settings.host}`, noSuchName, { errorCode: systemCode, ...(noSuchName ? { hint: 'check the host in SMTP_URL' } : {}) });
  }
  if (code === 'ETLS') return new MailDeliveryError(`TLS: ${text}`, true, { errorCode: code });
  // A refused or reset connection, a timeout, a server that hung up: worth another try soon.
  const where = `${settings.host}:${settings.port}`;
  const prefix = systemCode && !text.includes(systemCode) ? `${systemCode}: ` : '';
  return new MailDeliveryError(`connection to ${where} failed: ${prefix}${text}${at}`, false, { ...(systemCode ? { errorCode: systemCode } : {}), ...(command ? { command } : {}) });
}

/** How the transport talks, for the start-up line and --check-mail (no credentials). */
export function describeSmtp(settings: SmtpSettings): string {
  const tls = settings.implicitTls
    ? 'TLS on connect'
    : settings.requireTls
      ? 'STARTTLS required'
      : settings.insecure
        ? 'STARTTLS if offered, else plaintext: SMTP_INSECURE'
        : 'STARTTLS if offered, else plaintext: loopback host';
  const checks = {
    system: 'certificates checked',
    'ca-file': 'certificates checked against SMTP_TLS_CA_FILE',
    'ca-file-chain': 'certificates checked against SMTP_TLS_CA_FILE, not the host name: loopback host',
    none: settings.insecure
      ? 'certificates not checked'
      : settings.implicitTls
        ? 'certificates not checked: loopback host'
        : 'certificates not checked: opportunistic TLS on loopback, as between mail servers',
  }[settings.certificates];
  const login = settings.user ? `, login as ${settings.user}` : '';
  return `${settings.implicitTls ? 'smtps' : 'smtp'}://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port} (${tls}, ${checks}${login})`;
}

/** TLS options for how the settings check the server's certificate (see SmtpSettings.certificates). */
function tlsOptions(settings: SmtpSettings): ConnectionOptions {
  const base: ConnectionOptions = { minVersion: 'TLSv1.2' };
  switch (settings.certificates) {
    case 'system':
      return base;
    case 'ca-file':
      return { ...base, ca: settings.ca };
    case 'ca-file-chain':
      return { ...base, ca: settings.ca, checkServerIdentity: () => undefined };
    case 'none':
      return { ...base, rejectUnauthorized: false };
  }
}

/** How nodemailer's SMTPConnection connects with these settings (no login). */
function connectionOptions(settings: SmtpSettings): SMTPConnection.Options {
  return {
    host: settings.host,
    port: settings.port,
    secure: settings.implicitTls,
    // Never requireTLS: it sends STARTTLS to a server that did not offer it. STARTTLS goes when
    // offered; where TLS is required, smtp-pool.ts ends a session that stayed in plaintext.
    requireTLS: false,
    // Loopback and SMTP_INSECURE: a server that offers STARTTLS, then refuses it, gets the mail in plaintext.
    opportunisticTLS: !settings.requireTls,
    tls: tlsOptions(settings),
    ...(settings.ehloName ? { name: settings.ehloName } : {}),
    // Short timeouts: the sender retries with backoff, so a dead server must fail fast, not hang.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    logger: false,
  };
}

export function smtpTransport(settings: SmtpSettings, from: string): MailTransport {
  const pool = new SmtpPool({
    connection: connectionOptions(settings),
    auth: settings.user === undefined ? undefined : { user: settings.user, pass: settings.password ?? '' },
    requireTls: settings.requireTls,
    // A few connections kept open and reused: a new SMTP connection (and TLS handshake) per mail
    // held the 3-daemon outbox drain at ~210 mails/s; reused, ~700 (npm run bench).
    maxConnections: 10,
    maxMessages: 100,
    idleMs: 15_000,
    quitWaitMs: 2_000,
  });
  // nodemailer composes the message (sendMail); the pool carries it.
  const composer = nodemailer.createTransport({
    name: 'taskmaster-smtp-pool',
    version: '1',
    send(mail, callback) {
      const envelope = mail.message.getEnvelope();
      pool.send(envelope, () => mail.message.createReadStream()).then(
        (info) => callback(null, { ...info, envelope, messageId: mail.message.messageId() }),
        (error: Error) => callback(error),
      );
    },
  });
  return {
    async deliver(mail) {
      try {
        const info = (await composer.sendMail({ ...message(from, mail), disableFileAccess: true, disableUrlAccess: true })) as { response?: string };
        return String(info.response ?? 'accepted');
      } catch (error) {
        throw describeSmtpError(error, settings);
      }
    },
    async verify() {
      try {
        await pool.verify();
      } catch (error) {
        throw describeSmtpError(error, settings);
      }
    },
    close: () => pool.close(),
  };
}

/** A certificate's subject or issuer as OpenSSL writes it: `CN=…, O=…`. */
function distinguishedName(name: Record<string, string | string[]> | undefined): string {
  if (!name) return '(none)';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${[value].flat().join('+')}`)
    .join(', ');
}

/**
 * The certificate the server presents, fetched without checking it and with nothing sent past
 * STARTTLS: only to name it in --check-mail's message about a certificate that did not verify.
 * Undefined when the server cannot be reached or presents none.
 */
export async function peekCertificate(settings: SmtpSettings): Promise<{ subject: string; issuer: string } | undefined> {
  const connection = new SMTPConnection({ ...connectionOptions(settings), opportunisticTLS: false, tls: { rejectUnauthorized: false, checkServerIdentity: () => undefined } });
  connection.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      connection.once('end', () => reject(new Error('closed')));
      connection.connect((error) => (error ? reject(error) : resolve()));
    });
    const socket = connection._socket as TLSSocket | false | null;
    if (!connection.secure || !socket || typeof socket.getPeerCertificate !== 'function') return undefined;
    const certificate = socket.getPeerCertificate();
    if (!certificate || Object.keys(certificate).length === 0) return undefined;
    return { subject: distinguishedName(certificate.subject as unknown as Record<string, string | string[]>), issuer: distinguishedName(certificate.issuer as unknown as Record<string, string | string[]>) };
  } catch {
    return undefined;
  } finally {
    if (!connection.destroyed) connection.quit();
    setTimeout(() => connection.close(), 1_000).unref();
  }
}

export function outboxFolderTransport(outboxDir: string, from: string, log: Logger): MailTransport {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  // (a raw message passes through the stream transport unchanged)
  return {
    async deliver(mail) {
      await mkdir(outboxDir, { recursive: true, mode: 0o700 });
      const info = await builder.sendMail(message(from, mail));
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.id}-${mail.kind}.eml`;
      const path = join(outboxDir, name);
      // Write then rename, so a reader never sees half a message.
      await writeFile(`${path}.tmp`, info.message as Buffer, { mode: 0o600 });
      await rename(`${path}.tmp`, path);
      // The embedded outbox is the development default: show the link so it can be clicked.
      log.info({ mail: name, to: mail.to }, mail.link ? `mail written to outbox/${name}; open ${mail.link}` : `mail written to outbox/${name}`);
      return `written to ${path}`;
    },
    async verify() {},
    async close() {},
  };
}

/** The transport the configuration asks for: SMTP, or the embedded outbox folder. */
export function mailTransport(config: Config, log: Logger): MailTransport {
  return config.smtp ? smtpTransport(config.smtp, config.mailFrom) : outboxFolderTransport(join(config.dataDir, 'outbox'), config.mailFrom, log);
}
