// `taskmasterd --check-mail ADDRESS`: one test message with the configured settings, through the
// transport the daemon would use; no database. Exit 0 accepted, 1 not.
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Config } from '../core/config.js';
import { renderMail } from '../mail/templates.js';
import { MailDeliveryError, describeSmtp, isCertificateFailure, mailTransport, peekCertificate } from '../mail/transports.js';

export async function checkMailAndExit(config: Config, to: string): Promise<void> {
  for (const warning of config.warnings) process.stderr.write(`taskmasterd: warning: ${warning}\n`);
  const outboxDir = join(config.dataDir, 'outbox');
  const via = config.smtp ? describeSmtp(config.smtp) : `the outbox folder ${outboxDir} (SMTP_URL is not set)`;
  const ehlo = config.smtp ? `, EHLO ${config.smtp.ehloName ?? 'the machine name (set PUBLIC_URL to choose it)'}` : '';
  process.stdout.write(`Sending a test message to ${to} from ${config.mailFrom}\nthrough ${via}${ehlo}\n`);
  const transport = mailTransport(config, pino({ level: 'silent' }));
  const content = renderMail('TaskMaster test message', 'there', [
    { say: `This is a test message from taskmasterd --check-mail on ${hostname()}, sent at ${new Date().toISOString()}.` },
    { say: `It went through ${via}.` },
    { say: 'If you can read it, the mail settings of TaskMaster work.' },
  ]);
  try {
    const said = await transport.deliver({
      id: 0,
      messageId: `check.${Date.now()}`,
      kind: 'check',
      to,
      subject: content.subject,
      text: content.text,
      html: content.html,
      link: null,
    });
    process.stdout.write(
      config.smtp
        ? `accepted: the server answered ${said}\n(the server took the message; if it does not arrive, look in the server's log and the recipient's spam folder)\n`
        : `${said}\n`,
    );
  } catch (error) {
    const failure = error instanceof MailDeliveryError ? error : new MailDeliveryError(String((error as Error)?.message ?? error), false);
    process.stderr.write(`taskmasterd: not delivered: ${failure.reason}\n${failure.details.hint ? `hint: ${failure.details.hint}\n` : ''}`);
    // Which certificate did not verify, as the server presents it: what to compare with the CA file.
    const certificate = config.smtp && isCertificateFailure(failure) ? await peekCertificate(config.smtp) : undefined;
    if (certificate) process.stderr.write(`the server's certificate: subject ${certificate.subject}; issuer ${certificate.issuer}\n`);
    process.exitCode = 1;
  } finally {
    await transport.close();
  }
}
