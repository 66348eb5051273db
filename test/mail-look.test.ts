// The mails as a person sees them: each HTML part rendered in headless Chromium (screenshots in
// test/artifacts/), with a clear button, the link as text, and the token in a box for pasting;
// inline styles only and nothing loaded from elsewhere. The plain-text part keeps the link and the
// token on lines of their own.
import test, { type ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchBrowser, renderMail } from './helpers/browser.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { tokenOf, type ReceivedMail } from './helpers/smtp.js';

// Runs in the page (the tests' TypeScript has no DOM library).
declare const getComputedStyle: (element: unknown) => Record<'backgroundColor' | 'color' | 'textDecorationLine' | 'fontFamily' | 'borderTopStyle', string>;
declare const document: { documentElement: { scrollWidth: number } };

let td: TestDaemon;
let browser: Browser;
test.before(async () => {
  [td, browser] = await Promise.all([startTestDaemon(), launchBrowser()]);
});
test.after.always(async () => {
  await browser?.close();
  await td?.close();
});

/** Shows a mail's HTML the way a webmail would: no JavaScript, every request refused and noted. */
function render(mail: ReceivedMail, screenshot: string): Promise<{ page: Page; requests: string[] }> {
  return renderMail(browser, mail.html, screenshot);
}

/** What every mail's HTML must be: self-contained, inline-styled, and free of scripts and remote images. */
function assertSelfContained(t: ExecutionContext, mail: ReceivedMail, requests: string[]) {
  t.notRegex(mail.html, /<style|<link|<script|<img|\bsrc=|url\(/i, 'inline styles only; no remote images');
  t.regex(mail.html, /style="/);
  t.deepEqual(requests, [], 'the mail loads nothing');
  t.notRegex(mail.text, /<[a-z][^>]*>/i, 'the text part is plain text');
  t.regex(mail.text, /^Hello .+,$/m);
}

async function assertTokenMail(t: ExecutionContext, mail: ReceivedMail, screenshot: string, buttonName: string) {
  const token = tokenOf(mail); // the link and the token, each on a line of its own in the text part
  const link = `${td.url}/v1/verify?token=${token}`;
  t.true(mail.text.split('\n').includes(link), 'the link on its own line');
  t.true(mail.text.split('\n').includes(token), 'the token on its own line');
  t.true(mail.raw.includes(link), 'the raw message (an .eml) holds the link unbroken');
  t.true(mail.raw.split('\r\n').every((line) => line.length < 990), 'no line past RFC 5322\'s limit');

  const { page, requests } = await render(mail, screenshot);
  assertSelfContained(t, mail, requests);

  const button = page.getByRole('link', { name: buttonName });
  t.true(await button.isVisible(), 'a button to press');
  t.is(await button.getAttribute('href'), link);
  const look = await button.evaluate((element) => {
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return { background: style.backgroundColor, color: style.color, decoration: style.textDecorationLine, height: box.height, width: box.width };
  });
  t.not(look.background, 'rgba(0, 0, 0, 0)', 'the button has a fill');
  t.not(look.background, look.color);
  t.is(look.decoration, 'none');
  t.true(look.height >= 36 && look.width >= 120, `a button big enough to tap: ${look.width}x${look.height}`);

  const shownLink = page.getByText(link, { exact: true });
  t.true(await shownLink.isVisible(), 'the link shown as text, for clients that hide buttons');

  const tokenBox = page.getByText(token, { exact: true });
  t.true(await tokenBox.isVisible(), 'the token shown on its own');
  const box = await tokenBox.evaluate((element) => {
    const style = getComputedStyle(element);
    return { font: style.fontFamily, background: style.backgroundColor, border: style.borderTopStyle };
  });
  t.regex(box.font, /mono/i, 'the token in a monospace font');
  t.is(box.border, 'solid');
  t.not(box.background, 'rgba(0, 0, 0, 0)', 'in a box');
  t.regex(await page.locator('body').innerText(), /taskmaster verify/);

  // On a phone: nothing wider than the screen, the button still whole.
  await page.setViewportSize({ width: 360, height: 800 });
  await page.screenshot({ path: await artifactPath(screenshot.replace('.png', '-phone.png')), fullPage: true });
  t.true(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling on a 360 px screen');
  t.true(await button.isVisible());
  await page.context().close();
}

test('the verification mail has an Activate button, the link as text, and the token in a monospace box', async (t) => {
  const who = identity('look');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await td.smtp.waitFor((m) => m.to === who.email);
  t.is(mail.subject, 'Activate your TaskMaster account');
  await assertTokenMail(t, mail, 'mail-verification.png', 'Activate your account');
});

test('the email-change mail has a Confirm button; the notice to the old address is styled alike and asks for nothing to be clicked', async (t) => {
  const account = await activeAccount(td, identity('lookmove'));
  const newEmail = `new-${account.email}`;
  const changed = await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: account.password }, { token: account.token });
  t.is(changed.status, 200);

  const confirm = await td.smtp.waitFor((m) => m.to === newEmail);
  t.is(confirm.subject, 'Confirm your new TaskMaster email');
  await assertTokenMail(t, confirm, 'mail-email-change.png', 'Confirm your new email');

  const notice = await td.smtp.waitFor((m) => m.to === account.email && /being changed/.test(m.subject));
  const { page, requests } = await render(notice, 'mail-email-change-notice.png');
  assertSelfContained(t, notice, requests);
  const body = await page.locator('body').innerText();
  t.true(body.includes(newEmail), 'the notice names the new address');
  t.regex(body, new RegExp(`Hello ${account.username},`));
  t.regex(body, /TaskMaster/);
  t.is(await page.getByRole('link').count(), 0, 'nothing to click in a security notice');
  await page.context().close();
});
