// The SMTP connections the daemon keeps open, on nodemailer's SMTPConnection. Our own small pool
// rather than nodemailer's (pool: true), which does three things a mail server operator saw go wrong:
// - after a 4xx or 5xx answer it resets the session (RSET) and sends the retry over the same
//   connection, so every retry reached the same server process (a Postfix smtpd that kept its old
//   settings for minutes after a reload). Here a connection is reused only after a delivery that
//   succeeded; any error ends it, with QUIT while the session still stands, and the retry opens a
//   new one. Only that connection ends: the mails in flight on the others go on.
// - its close() ends the sockets without QUIT. Here close() says QUIT on each and waits, bounded.
// - under requireTLS it sends STARTTLS whether or not the server offered it. Here STARTTLS is sent
//   only when offered (nodemailer's default), and where TLS is required a session that stayed in
//   plaintext is ended before anything else (AUTH, MAIL FROM) is said.
// State: open sockets of this process only; nothing to share with other daemons.
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpPoolOptions {
  /** How to connect: host, port, TLS, EHLO name, timeouts. */
  connection: SMTPConnection.Options;
  auth: { user: string; pass: string } | undefined;
  /** End a session that is not encrypted after EHLO (the server did not offer STARTTLS). */
  requireTls: boolean;
  maxConnections: number;
  /** Messages per connection before it is replaced. */
  maxMessages: number;
  /** An unused connection says QUIT after this long (below the socket timeout, which would end it rudely). */
  idleMs: number;
  /** How long a QUIT may wait for the server's answer before the socket is closed anyway. */
  quitWaitMs: number;
}

/** The session stayed in plaintext where TLS is required: the server's EHLO answer offered no STARTTLS. */
export class NoStartTlsError extends Error {
  readonly code = 'ENOSTARTTLS';
  constructor() {
    super('the server does not offer STARTTLS');
  }
}

interface Session {
  connection: SMTPConnection;
  messages: number;
  busy: boolean;
  /** Given up: it no longer counts towards maxConnections and is never handed out again. */
  retired: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  /** Resolves when the connection has ended (QUIT answered, closed, or dropped). */
  ended: Promise<void>;
}

/** An SMTP error that carries a reply of the server: the session still stands, so it can be ended with QUIT. */
function hasReply(error: unknown): boolean {
  return typeof (error as { responseCode?: unknown })?.responseCode === 'number';
}

/** Says QUIT, and closes the socket should the answer not come within `waitMs`. */
function quit(connection: SMTPConnection, waitMs: number): void {
  if (connection.destroyed) return;
  const timer = setTimeout(() => connection.close(), waitMs);
  timer.unref();
  connection.once('end', () => clearTimeout(timer));
  connection.quit();
}

function ended(connection: SMTPConnection): Promise<void> {
  return connection.destroyed ? Promise.resolve() : new Promise((resolve) => connection.once('end', () => resolve()));
}

export class SmtpPool {
  private readonly idle: Session[] = [];
  /** Every session whose connection has not ended yet, including those saying goodbye. */
  private readonly sessions = new Set<Session>();
  /** Sessions open or opening that count towards maxConnections. */
  private slotsTaken = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: SmtpPoolOptions) {}

  /** Sends one message; `message` makes its stream (again, should a reused connection turn out dead before it was read). */
  async send(envelope: SMTPConnection.Envelope, message: () => Readable): Promise<SMTPConnection.SentMessageInfo> {
    for (let attempt = 1; ; attempt++) {
      const { session, reused } = await this.acquire();
      const stream = message();
      try {
        const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) => {
          session.connection.send(envelope, stream, (error, result) => (error ? reject(error) : resolve(result!)));
        });
        session.messages++;
        this.release(session);
        return info;
      } catch (error) {
        this.retire(session, hasReply(error));
        // A kept connection the server closed in between, found out before a byte of the message
        // went: not a failure of this mail, which goes over a new connection now.
        if (reused && attempt === 1 && !hasReply(error) && stream.readableDidRead === false) continue;
        throw error;
      }
    }
  }

  /** Connects, encrypts and logs in as a delivery would, then says QUIT: the start-up check. */
  async verify(): Promise<void> {
    const connection = await this.connect();
    quit(connection, this.options.quitWaitMs);
    await ended(connection);
  }

  /** Says QUIT on every connection (those delivering first finish their mail) and resolves once they have ended, or after a bound. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    for (const session of [...this.idle]) this.retire(session, true);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.quitWaitMs + 1_000)));
    const drained = (async () => {
      // a session busy now is retired when its delivery ends (release sees `closed`)
      while (this.sessions.size > 0) await Promise.all([...this.sessions].map((session) => session.ended));
    })();
    await Promise.race([drained, bound]);
    clearTimeout(timer);
    for (const session of this.sessions) session.connection.close();
  }

  private async acquire(): Promise<{ session: Session; reused: boolean }> {
    for (;;) {
      if (this.closed) throw Object.assign(new Error('the mail transport is closing'), { code: 'ECONNECTION' });
      const kept = this.idle.pop();
      if (kept) {
        clearTimeout(kept.idleTimer);
        kept.busy = true;
        return { session: kept, reused: true };
      }
      if (this.slotsTaken < this.options.maxConnections) break;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.slotsTaken++;
    let connection: SMTPConnection;
    try {
      connection = await this.connect();
    } catch (error) {
      this.freeSlot();
      throw error;
    }
    const session: Session = { connection, messages: 0, busy: true, retired: false, idleTimer: undefined, ended: ended(connection) };
    this.sessions.add(session);
    void session.ended.then(() => {
      this.sessions.delete(session);
      // dropped by the server (or a socket error) while unused: forget it
      this.retire(session, false);
    });
    // While a delivery runs, its callback reports the error; an unused connection that fails just ends.
    connection.on('error', () => {
      if (!session.busy) this.retire(session, false);
    });
    if (this.closed) {
      this.retire(session, true);
      throw Object.assign(new Error('the mail transport is closing'), { code: 'ECONNECTION' });
    }
    return { session, reused: false };
  }

  private release(session: Session): void {
    session.busy = false;
    if (this.closed || session.messages >= this.options.maxMessages || session.connection.destroyed) {
      this.retire(session, true);
      return;
    }
    session.idleTimer = setTimeout(() => this.retire(session, true), this.options.idleMs);
    session.idleTimer.unref();
    this.idle.push(session);
    this.waiting.shift()?.();
  }

  /** Takes a session out of use for good: with QUIT when `politely` (its session still stands), else by closing the socket. */
  private retire(session: Session, politely: boolean): void {
    if (session.retired) return;
    session.retired = true;
    clearTimeout(session.idleTimer);
    const at = this.idle.indexOf(session);
    if (at >= 0) this.idle.splice(at, 1);
    if (politely) quit(session.connection, this.options.quitWaitMs);
    else session.connection.close();
    this.freeSlot();
  }

  private freeSlot(): void {
    this.slotsTaken--;
    this.waiting.shift()?.();
  }

  /** A new session: greeting, EHLO, STARTTLS when offered, the TLS rule, then the login. */
  private connect(): Promise<SMTPConnection> {
    const connection = new SMTPConnection(this.options.connection);
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (error: unknown, politely = false) => {
        if (settled) return;
        settled = true;
        connection.off('error', done);
        connection.off('end', closedEarly);
        if (error === undefined) return resolve(connection);
        if (politely) quit(connection, this.options.quitWaitMs);
        else connection.close();
        reject(error);
      };
      const closedEarly = () => done(Object.assign(new Error('the server closed the connection'), { code: 'ECONNECTION', command: 'CONN' }));
      // 'error' stays listened to for the connection's whole life (an unheard 'error' would throw)
      connection.on('error', () => undefined);
      connection.once('error', done);
      connection.once('end', closedEarly);
      connection.connect((error) => {
        if (error) return done(error);
        if (this.options.requireTls && !connection.secure) return done(new NoStartTlsError(), true);
        const { auth } = this.options;
        // As nodemailer does: no login where the server offers no AUTH (a relay that needs none).
        if (!auth || !connection.allowsAuth) return done(undefined);
        connection.login({ user: auth.user, credentials: { user: auth.user, pass: auth.pass } }, (loginError) => done(loginError ?? undefined, hasReply(loginError)));
      });
    });
  }
}
