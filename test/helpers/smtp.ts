// A real SMTP receiver (smtp-server) for tests: collects parsed mail; can refuse for a while.
// By default plaintext without AUTH on 127.0.0.1; options add STARTTLS or TLS on connect with a
// certificate, AUTH, another bind address, and refused recipients, as real servers have them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser, type ParsedMail } from 'mailparser';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { DEFAULT_LEASE_MS, DEFAULT_POLL_MS } from '../../server/mail/sender.js';

/**
 * How long a test waits for a mail, from the sender's own timing rather than a guess: a queued mail
 * is claimed by the next pass (at once, or within a poll when another daemon queued it); should the
 * daemon that claimed it stall or die, its lease runs out and another pass takes it within a poll.
 * So one lease and two polls: 19 s with the defaults. A healthy run takes milliseconds.
 */
export const MAIL_WAIT_MS = DEFAULT_LEASE_MS + 2 * DEFAULT_POLL_MS;

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  raw: string;
  parsed: ParsedMail;
  /** The envelope sender (MAIL FROM). */
  from: string;
  /** The name the sender gave in EHLO/HELO. */
  ehloName: string;
  /** True when the session was encrypted (STARTTLS or TLS on connect). */
  secure: boolean;
  /** The user the sender logged in as, if it did. */
  user: string | undefined;
  /** The id in the receiver's answer to the message, as Postfix gives one: `250 Ok: queued as <queueId>`. */
  queueId: string;
}

export interface SmtpReceiverOptions {
  /** Address to listen on (default 127.0.0.1); `url` names it unless urlHost is given. */
  host?: string;
  /** The host written in `url`, when the sender should reach the receiver by another name or address. */
  urlHost?: string;
  /** Certificate and key (PEM): STARTTLS is offered, or with implicitTls, TLS from the first byte. */
  tls?: { key: string; cert: string };
  implicitTls?: boolean;
  /** AUTH required (PLAIN, LOGIN) with these credentials; `refusal` is the text of a 535 for others. */
  auth?: { user: string; password: string; refusal?: (given: { user: string; password: string }) => string };
  /** A reply that refuses a recipient (e.g. { code: 550, text: '5.1.1 … User unknown' }), or undefined to accept it; `session` is the connection's id. */
  refuseRecipient?: (address: string, session: string) => { code: number; text: string } | undefined;
}

/** One command the receiver got: its connection's id and the command's name (EHLO, STARTTLS, MAIL, RCPT, QUIT…). */
export interface ReceivedCommand {
  session: string;
  command: string;
}

export interface SmtpReceiver {
  url: string;
  port: number;
  mails: ReceivedMail[];
  /** While true, every connection is refused with a transient 421. */
  refusing: boolean;
  connections: number;
  /** Refused logins. */
  failedLogins: number;
  /** Connections the sender dropped mid-session. */
  droppedConnections: number;
  /** Connections held before the greeting, as a stalled server would. */
  stalled: number;
  /** Every command received, in order, by connection. */
  commands: ReceivedCommand[];
  /** Stall every new connection until release(). */
  hold(): void;
  release(): void;
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  mailsTo(address: string): ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtp(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const waiters = new Set<() => void>();
  let holding = false;
  const held: (() => void)[] = [];
  const receiver: SmtpReceiver = {
    url: '',
    port: 0,
    mails: [],
    refusing: false,
    connections: 0,
    failedLogins: 0,
    droppedConnections: 0,
    stalled: 0,
    commands: [],
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const proceed of held.splice(0)) proceed();
      receiver.stalled = 0;
    },
    async waitFor(predicate, timeoutMs = MAIL_WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = receiver.mails.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching mail within ${timeoutMs} ms (got ${receiver.mails.length})`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          setTimeout(wake, 100);
        });
      }
    },
    mailsTo: (address) => receiver.mails.filter((mail) => mail.to.toLowerCase() === address.toLowerCase()),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const disabledCommands = [...(options.tls && !options.implicitTls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])];
  const server = new SMTPServer({
    authOptional: !options.auth,
    disabledCommands,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, secure: options.implicitTls === true } : {}),
    authMethods: ['PLAIN', 'LOGIN'],
    // smtp-server logs each command it reads at debug level: that is how the test sees them.
    logger: {
      debug(entry: { tnx?: string; cid?: string; command?: string }) {
        if (entry.tnx === 'command' && entry.cid && entry.command) receiver.commands.push({ session: entry.cid, command: entry.command });
      },
      info() {},
      error() {},
    } as never,
    onAuth(auth, _session, callback) {
      const wanted = options.auth;
      if (wanted && auth.username === wanted.user && auth.password === wanted.password) return callback(null, { user: auth.username });
      receiver.failedLogins++;
      const given = { user: auth.username ?? '', password: auth.password ?? '' };
      const text = wanted?.refusal?.(given) ?? '5.7.8 Authentication credentials invalid';
      callback(Object.assign(new Error(text), { responseCode: 535 }));
    },
    // A held server also stalls a connection opened before the hold (senders keep them pooled).
    onMailFrom(_address, _session, callback) {
      if (holding) {
        receiver.stalled++;
        held.push(() => callback());
        return;
      }
      callback();
    },
    onRcptTo(address, session, callback) {
      const refusal = options.refuseRecipient?.(address.address, session.id);
      if (refusal) return callback(Object.assign(new Error(refusal.text), { responseCode: refusal.code }));
      callback();
    },
    onConnect(_session, callback) {
      receiver.connections++;
      if (receiver.refusing) {
        const error = Object.assign(new Error('Service not available, try again later'), { responseCode: 421 });
        return callback(error);
      }
      if (holding) {
        receiver.stalled++;
        held.push(() => callback());
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const parsed = await simpleParser(raw);
        const queueId = randomBytes(5).toString('hex').toUpperCase();
        for (const recipient of session.envelope.rcptTo) {
          receiver.mails.push({
            to: recipient.address,
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            raw,
            parsed,
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            ehloName: session.hostNameAppearsAs,
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : undefined,
            queueId,
          });
        }
        for (const wake of [...waiters]) wake();
        callback(null, `Ok: queued as ${queueId}`);
      });
    },
  });
  // A sender may vanish mid-session (the crash tests SIGKILL the daemon): that is a dropped
  // connection for a mail server, never a reason for the test process to die.
  server.on('error', (error: NodeJS.ErrnoException) => {
    receiver.droppedConnections++;
    // With TLS, a sender that refuses the certificate hangs up mid-handshake: that is the test.
    if (options.tls && /TLS|SSL|socket|certificate/i.test(`${error.code} ${error.message}`)) return;
    if (!['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(error.code ?? '')) throw error;
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  receiver.port = (server.server.address() as AddressInfo).port;
  const urlHost = options.urlHost ?? host;
  receiver.url = `${options.implicitTls ? 'smtps' : 'smtp'}://${isIP(urlHost) === 6 ? `[${urlHost}]` : urlHost}:${receiver.port}`;
  return receiver;
}

/** A self-signed certificate (made with the openssl CLI) for these DNS names and IP addresses. */
export function selfSignedCertificate(names: string[], commonName = 'TaskMaster test SMTP'): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'taskmaster-cert-'));
  try {
    const san = names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${san}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An address of this machine that is not loopback, to listen on: the daemon must treat it like a
 * remote mail server. Without one, the receiver listens on 127.0.0.1 and is reached as 0.0.0.0
 * (which Linux delivers locally, but which is not a loopback address by the daemon's rule).
 */
export function nonLoopbackAddress(): { listen: string; reachAs: string } {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (!address.internal && address.family === 'IPv4') return { listen: address.address, reachAs: address.address };
    }
  }
  return { listen: '127.0.0.1', reachAs: '0.0.0.0' };
}

/** The verification token of a mail: the bare token on its own line, which must match the link's. */
export function tokenOf(mail: { text: string }): string {
  const fromLink = /\/v1\/verify\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  const alone = mail.text.split(/\r?\n/).find((line) => /^[A-Za-z0-9]{43}$/.test(line.trim()))?.trim();
  if (!fromLink || fromLink !== alone) throw new Error(`mail has no matching link and token line:\n${mail.text}`);
  return alone;
}

/** One line of the daemon's log, parsed. */
export type CapturedLogLine = { level: number; msg: string; [field: string]: unknown };

/** A pino logger whose lines the test can read and wait for. */
export function capturedLog() {
  const lines: CapturedLogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return {
    log: pino({ level: 'info' }, sink),
    lines,
    all: () => lines.map((line) => JSON.stringify(line)).join('\n'),
    async waitFor(predicate: (line: CapturedLogLine) => boolean, timeoutMs = 10_000): Promise<CapturedLogLine> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no such log line within ${timeoutMs} ms; got:\n${lines.map((line) => line.msg).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
