// The password reset link in a real headless Chromium, with JavaScript off: the form, its refusals,
// the success page, and the pages for a used, expired or unknown link. Screenshots of each go to
// test/artifacts/reset-*.png.
import test, { type ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchBrowser, openWatched, renderMail } from './helpers/browser.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { CHANGED_SUBJECT, RESET_SUBJECT, mailCount, nextMail, resetTokenOf } from './helpers/reset-mail.js';

const NEW_PASSWORD = 'lantern-orchard-violet-98-quartz';

let td: TestDaemon;
let browser: Browser;
let offset = 0;
test.before(async () => {
  [td, browser] = await Promise.all([startTestDaemon({ clock: () => Date.now() + offset }), launchBrowser()]);
});
test.after.always(async () => {
  await browser?.close();
  await td?.close();
});

const login = (email: string, password: string) => api(td.url, 'POST', '/v1/sessions', { email, password });

/** Asks for a reset and returns the link as the mail's text part has it, on a line of its own. */
async function resetLink(t: ExecutionContext, email: string): Promise<string> {
  const seen = mailCount(td.smtp, email, RESET_SUBJECT);
  t.is((await api(td.url, 'POST', '/v1/password/forgot', { email })).status, 202);
  const mail = await nextMail(td.smtp, email, RESET_SUBJECT, seen);
  const link = `${td.url}/v1/password/reset?token=${resetTokenOf(mail)}`;
  t.true(mail.text.split('\n').includes(link), 'the link on a line of its own');
  return link;
}

interface Opened {
  page: Page;
  /** Requests that went anywhere but the daemon. */
  foreign: string[];
  /** Console errors and warnings (a CSP refusal shows there). */
  complaints: string[];
}

async function open(link: string, viewport = { width: 900, height: 720 }): Promise<Opened> {
  // A 400 page is meant: Chromium notes its status, which is no complaint about the page.
  const { page, foreign, complaints, response } = await openWatched(browser, link, { origin: td.url, viewport, ignore: /status of 400/ });
  (page as Page & { status?: number }).status = response?.status();
  return { page, foreign, complaints };
}

const statusOf = (page: Page) => (page as Page & { status?: number }).status;
const heading = (page: Page) => page.getByRole('heading', { level: 1 }).innerText();

/** Types both fields and presses the button, as a person would; resolves with the answer's status. */
async function submit(page: Page, password: string, again: string): Promise<number | undefined> {
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again').fill(again);
  const [response] = await Promise.all([page.waitForResponse((r) => r.url() === `${td.url}/v1/password/reset` && r.request().method() === 'POST'), page.getByRole('button', { name: 'Set the new password' }).click()]);
  await page.waitForLoadState();
  return response.status();
}

function clean(t: ExecutionContext, opened: Opened) {
  t.deepEqual(opened.foreign, [], 'nothing loaded from elsewhere');
  t.deepEqual(opened.complaints, [], 'no CSP refusal or other complaint in the console');
}

test.serial('the reset link opens a form in Chromium: a mismatch and a weak password are shown on it, a good one is set, and the link dies', async (t) => {
  const account = await activeAccount(td, identity('browser'));
  const link = await resetLink(t, account.email);
  const opened = await open(link);
  const { page } = opened;
  t.is(statusOf(page), 200);
  t.is(await page.title(), 'Choose a new password · TaskMaster');
  t.is(await heading(page), 'Choose a new password');
  t.regex(await page.locator('body').innerText(), new RegExp(`For the TaskMaster account ${account.username}`));
  t.regex(await page.locator('body').innerText(), /8 to 256 characters/, 'the rules are shown');
  t.is(await page.locator('input[type=password]').count(), 2, 'typed twice');
  t.is(await page.getByLabel('New password', { exact: true }).getAttribute('autocomplete'), 'new-password');
  await page.screenshot({ path: await artifactPath('reset-form.png'), fullPage: true });
  t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'opening the link changed nothing');

  t.is(await submit(page, NEW_PASSWORD, `${NEW_PASSWORD}-typo`), 400);
  t.is(await heading(page), 'Choose a new password', 'the form again');
  t.regex(await page.getByRole('alert').innerText(), /do not match/);
  t.is(await page.getByLabel('New password', { exact: true }).inputValue(), '', 'nothing typed is sent back');
  await page.screenshot({ path: await artifactPath('reset-mismatch.png'), fullPage: true });

  t.is(await submit(page, 'password1234', 'password1234'), 400);
  t.regex(await page.getByRole('alert').innerText(), /too weak/i);
  await page.screenshot({ path: await artifactPath('reset-weak.png'), fullPage: true });
  t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'no refusal changed anything');

  const secondTab = await open(link); // the same link, left open in another tab
  t.is(await submit(page, NEW_PASSWORD, NEW_PASSWORD), 200);
  t.is(await heading(page), 'Password changed');
  t.regex(await page.locator('body').innerText(), /Every session of the account has ended[\s\S]*taskmaster login/);
  await page.screenshot({ path: await artifactPath('reset-done.png'), fullPage: true });
  t.is((await login(account.email, NEW_PASSWORD)).status, 201, 'the new password logs in');
  t.is((await login(account.email, STRONG_PASSWORD)).status, 401, 'the old one does not');
  clean(t, opened);

  // The form in the other tab, and the link opened again, say it no longer works.
  t.is(await submit(secondTab.page, 'another-fine-passphrase-77', 'another-fine-passphrase-77'), 400);
  t.is(await heading(secondTab.page), 'This reset link does not work');
  await secondTab.page.context().close();
  const reopened = await open(link);
  t.is(statusOf(reopened.page), 400);
  t.is(await heading(reopened.page), 'This reset link does not work');
  t.regex(await reopened.page.locator('body').innerText(), /taskmaster password forgot/);
  t.is(await reopened.page.getByRole('button').count(), 0, 'nothing to press');
  await reopened.page.screenshot({ path: await artifactPath('reset-used.png'), fullPage: true });
  clean(t, reopened);
  t.is((await login(account.email, NEW_PASSWORD)).status, 201);
  await page.context().close();
  await reopened.page.context().close();
});

test.serial('an expired reset link, and a form left open past 30 minutes, get the page that says to run password forgot', async (t) => {
  const account = await activeAccount(td, identity('late'));
  const link = await resetLink(t, account.email);
  const opened = await open(link);
  t.is(statusOf(opened.page), 200);
  try {
    offset = 30 * 60 * 1000 + 1_000;
    t.is(await submit(opened.page, NEW_PASSWORD, NEW_PASSWORD), 400);
    t.is(await heading(opened.page), 'This reset link does not work');
    const expired = await open(link);
    t.is(statusOf(expired.page), 400);
    t.regex(await expired.page.locator('body').innerText(), /30 minutes[\s\S]*taskmaster password forgot/);
    await expired.page.screenshot({ path: await artifactPath('reset-expired.png'), fullPage: true });
    await expired.page.context().close();
  } finally {
    offset = 0;
  }
  t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'the password stayed');
  await opened.page.context().close();
});

test.serial('an unknown token opens the same page; the form fits a phone screen', async (t) => {
  const unknown = await open(`${td.url}/v1/password/reset?token=${'A'.repeat(43)}`);
  t.is(statusOf(unknown.page), 400);
  t.is(await heading(unknown.page), 'This reset link does not work');
  await unknown.page.screenshot({ path: await artifactPath('reset-invalid.png'), fullPage: true });
  clean(t, unknown);
  await unknown.page.context().close();

  const account = await activeAccount(td, identity('phone'));
  const phone = await open(await resetLink(t, account.email), { width: 380, height: 760 });
  await phone.page.screenshot({ path: await artifactPath('reset-form-phone.png'), fullPage: true });
  const overflow = await phone.page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  t.is(overflow, 0, 'no sideways scrolling');
  await phone.page.context().close();
});

test.serial('the reset mail and the "password changed" notice, as a webmail shows them: a button, the link as text, the token in a box', async (t) => {
  const account = await activeAccount(td, identity('mailview'));
  const seen = mailCount(td.smtp, account.email, RESET_SUBJECT);
  t.is((await api(td.url, 'POST', '/v1/password/forgot', { email: account.email })).status, 202);
  const mail = await nextMail(td.smtp, account.email, RESET_SUBJECT, seen);
  const token = resetTokenOf(mail);
  const link = `${td.url}/v1/password/reset?token=${token}`;
  const noticesBefore = mailCount(td.smtp, account.email, CHANGED_SUBJECT);
  t.is((await api(td.url, 'POST', '/v1/password/reset', { token, password: NEW_PASSWORD })).status, 200);
  const notice = await nextMail(td.smtp, account.email, CHANGED_SUBJECT, noticesBefore);

  for (const [shown, screenshot] of [
    [mail, 'reset-mail.png'],
    [notice, 'reset-notice-mail.png'],
  ] as const) {
    const { page, requests } = await renderMail(browser, shown.html, screenshot);
    t.deepEqual(requests, [], 'the mail loads nothing');
    t.notRegex(shown.html, /<script|<img|<style|\bsrc=/i);
    if (shown === mail) {
      const button = page.getByRole('link', { name: 'Choose a new password' });
      t.true(await button.isVisible());
      t.is(await button.getAttribute('href'), link);
      t.true(await page.getByText(link, { exact: true }).isVisible(), 'the link as text');
      t.true(await page.getByText(token, { exact: true }).isVisible(), 'the token in its box');
      t.regex(await page.locator('body').innerText(), /nothing happens/);
    } else {
      t.regex(await page.locator('body').innerText(), /reset from the emailed link[\s\S]*taskmaster password forgot/);
    }
    await page.context().close();
  }
});
