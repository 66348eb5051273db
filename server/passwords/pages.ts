// The reset link's pages: the form (new password typed twice) and what posting it answers.
import { Html, html } from '../core/html.js';
import { inTerminal, renderPage, say } from '../core/page.js';

/**
 * The password reset link's page: the new password typed twice, the rules shown, no script. Opening
 * it changes nothing; the form posts the token with the password. `problem` is the last refusal
 * (mismatch, too weak), shown above the form; the fields start empty again, never echoed.
 */
export function resetFormPage(form: { token: string; username: string; email: string; problem?: string | undefined }): Html {
  return renderPage(
    'Choose a new password',
    'plain',
    html`<p>For the TaskMaster account <span class="addr">${form.username}</span> (${form.email}).</p>
${form.problem ? html`<p class="alert" role="alert">${form.problem}</p>
` : ''}<form method="post" action="/v1/password/reset">
<input type="hidden" name="token" value="${form.token}">
<input type="email" name="username" autocomplete="username" value="${form.email}" hidden readonly>
<label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="8" required aria-describedby="rules"${form.problem ? ' autofocus' : ''}>
<label for="confirm">New password again</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" minlength="8" required>
<ul class="rules" id="rules">
<li>8 to 256 characters; spaces and any letters are fine.</li>
<li>Hard to guess: not a common password, a word with digits, or a keyboard pattern. A few unrelated words work well.</li>
<li>Not containing your username or the part of your email before the @.</li>
</ul>
<button type="submit">Set the new password</button>
</form>
${say('Setting it ends every session of the account: each device logs in again with the new password.', true)}`,
  );
}

export function passwordResetPage(username: string): Html {
  return renderPage(
    'Password changed',
    'ok',
    html`<p>The password of <span class="addr">${username}</span> is changed. Every session of the account has ended.</p>
${inTerminal('Log in with it', 'taskmaster login')}<p>Or <a href="/login">sign in on the web</a>.</p>
`,
  );
}

/** An unknown, used or expired reset link: alike, and the way on. */
export function resetLinkInvalidPage(): Html {
  return renderPage(
    'This reset link does not work',
    'bad',
    html`${say('Reset links work once, for 30 minutes, and only the newest one sent. This one was used already, has expired, was replaced, or was mistyped.')}${inTerminal(
      'Ask for a new one',
      'taskmaster password forgot',
    )}`,
  );
}
