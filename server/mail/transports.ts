// Where mail goes: real SMTP when SMTP_URL is set, else .eml files in <data dir>/outbox/.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { Logger } from 'pino';

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
  deliver(mail: OutgoingMail): Promise<void>;
  close(): void;
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

/** A refusal that retrying will not fix (5xx from the server). */
export class PermanentMailError extends Error {}

export function smtpTransport(smtpUrl: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport(smtpUrl, { from });
  // Short timeouts: the sender retries with backoff, so a dead server must fail fast, not hang.
  Object.assign(transporter.options, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  return {
    async deliver(mail) {
      try {
        await transporter.sendMail(message(from, mail));
      } catch (error) {
        // Only a 5xx to the envelope or the message is final; a refusal at connect or login may pass.
        const { responseCode, command } = error as { responseCode?: number; command?: string };
        const permanent = ['MAIL FROM', 'RCPT TO', 'DATA'].includes(command ?? '');
        if (permanent && responseCode !== undefined && responseCode >= 500 && responseCode < 600) {
          throw new PermanentMailError(`SMTP ${responseCode}: ${(error as Error).message}`);
        }
        throw error;
      }
    },
    close: () => transporter.close(),
  };
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
    },
    close() {},
  };
}
