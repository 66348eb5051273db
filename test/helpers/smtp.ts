// A real SMTP receiver (smtp-server) for tests: collects parsed mail; can refuse for a while.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpReceiver {
  url: string;
  port: number;
  mails: ReceivedMail[];
  /** While true, every connection is refused with a transient 421. */
  refusing: boolean;
  connections: number;
  /** Connections the sender dropped mid-session. */
  droppedConnections: number;
  /** Connections held before the greeting, as a stalled server would. */
  stalled: number;
  /** Stall every new connection until release(). */
  hold(): void;
  release(): void;
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  mailsTo(address: string): ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtp(): Promise<SmtpReceiver> {
  const waiters = new Set<() => void>();
  let holding = false;
  const held: (() => void)[] = [];
  const receiver: SmtpReceiver = {
    url: '',
    port: 0,
    mails: [],
    refusing: false,
    connections: 0,
    droppedConnections: 0,
    stalled: 0,
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const proceed of held.splice(0)) proceed();
      receiver.stalled = 0;
    },
    async waitFor(predicate, timeoutMs = 10_000) {
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
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
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
        for (const recipient of session.envelope.rcptTo) {
          receiver.mails.push({
            to: recipient.address,
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            raw,
            parsed,
          });
        }
        for (const wake of [...waiters]) wake();
        callback();
      });
    },
  });
  // A sender may vanish mid-session (the crash tests SIGKILL the daemon): that is a dropped
  // connection for a mail server, never a reason for the test process to die.
  server.on('error', (error: NodeJS.ErrnoException) => {
    receiver.droppedConnections++;
    if (!['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(error.code ?? '')) throw error;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.port = (server.server.address() as AddressInfo).port;
  receiver.url = `smtp://127.0.0.1:${receiver.port}`;
  return receiver;
}

/** The verification token of a mail: the bare token on its own line, which must match the link's. */
export function tokenOf(mail: { text: string }): string {
  const fromLink = /\/v1\/verify\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  const alone = mail.text.split(/\r?\n/).find((line) => /^[A-Za-z0-9]{43}$/.test(line.trim()))?.trim();
  if (!fromLink || fromLink !== alone) throw new Error(`mail has no matching link and token line:\n${mail.text}`);
  return alone;
}
