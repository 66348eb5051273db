// The verification link's pages: the Confirm page and what pressing it answers.
import { Html, html } from '../core/html.js';
import { inTerminal, renderPage, say } from '../core/page.js';

/**
 * What the emailed link opens. Opening it changes nothing, so a mail scanner that follows every
 * link activates nothing; the button posts the token.
 */
export function confirmPage(token: string): Html {
  return renderPage(
    'Confirm your email',
    'plain',
    html`${say('Press Confirm to finish confirming your email address for TaskMaster.')}<form method="post" action="/v1/verify">
<input type="hidden" name="token" value="${token}">
<button type="submit">Confirm</button>
</form>
${say('Opening the link did nothing by itself: mail scanners open links too, so confirming takes a press.', true)}`,
  );
}

/** The web's way on, beside the terminal's (the sign-in page, server/web/). */
const signInLink = html`<p>Or <a href="/login">sign in on the web</a>.</p>\n`;

export function activatedPage(username: string): Html {
  return renderPage('Account activated', 'ok', html`<p>Welcome, ${username}. Your TaskMaster account is active.</p>\n${inTerminal('Next', 'taskmaster login')}${signInLink}`);
}

export function alreadyActivePage(): Html {
  return renderPage('Account already active', 'ok', html`${say('This link was used already and the account is active.')}${inTerminal('Next', 'taskmaster login')}${signInLink}`);
}

export function emailChangedPage(email: string): Html {
  return renderPage('Email confirmed', 'ok', html`<p>Your TaskMaster email is now <span class="addr">${email}</span>.</p>\n${inTerminal('Next', 'taskmaster profile')}`);
}

export function emailTakenPage(): Html {
  return renderPage(
    'This email is taken',
    'bad',
    html`${say('Another account started using this address before it was confirmed here, so your email stays as it was.')}${inTerminal('Choose another one', 'taskmaster profile update --email …')}`,
  );
}

export function invalidTokenPage(expired: boolean): Html {
  return renderPage(
    expired ? 'This link has expired' : 'This link is not valid',
    'bad',
    html`${say(expired ? 'Links in TaskMaster emails work for 24 hours.' : 'It may have been mistyped, replaced by a newer email, or used already.')}${inTerminal(
      'Ask for a new email',
      'taskmaster verify --resend --email you@example.com',
    )}`,
  );
}

/** Any link of an account the operator disabled (verification, email change, password reset): nothing it could do. */
export function accountDisabledPage(): Html {
  return renderPage(
    'This account is disabled',
    'bad',
    html`${say('The operator of this service has disabled this TaskMaster account, so this link does nothing: the account cannot log in or change its password or email until they enable it again.')}${say('If you think this is a mistake, ask them: the email that told you the account was disabled says how.', true)}`,
  );
}
