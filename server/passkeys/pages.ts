// The passkeys' parts of the web pages: "Sign in with a passkey" under /login's form, and the
// dashboard's Passkeys section (add, rename, remove). The ceremonies run in the daemon's own script
// (/assets/passkeys.js, script.ts): without JavaScript, the passkey buttons stay hidden and every
// other form works as before.
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { Html, html } from '../core/html.js';
import { say } from '../core/page.js';
import type { PasskeyInfo, User } from '../contract/api.js';
import { csrfField, csrfToken } from '../web/csrf.js';
import { PAGE_SCRIPT_TAG, alertBox, noticeBox, textField } from '../web/layout.js';
import { PASSKEY_NAME_MAX } from './schemas.js';

type Web = Pick<Services, 'publicUrl'>;

export const LOGIN_OPTIONS_PATH = '/login/passkey/options';
export const LOGIN_VERIFY_PATH = '/login/passkey';
export const REGISTER_OPTIONS_PATH = '/account/passkeys/options';
export const REGISTER_VERIFY_PATH = '/account/passkeys';

const script = new Html(PAGE_SCRIPT_TAG);

/** Under the sign-in form: the passkey button (shown by the script where the browser has WebAuthn), `next` kept. */
export function passkeySignIn(ctx: Context, services: Web, next: string | undefined): Html {
  return html`<div data-passkey-login data-options-csrf="${csrfToken(ctx, services, LOGIN_OPTIONS_PATH)}" data-verify-csrf="${csrfToken(ctx, services, LOGIN_VERIFY_PATH)}" data-next="${next ?? ''}" hidden>
<p class="or">or, without the password</p>
<p><button type="button" class="secondary" data-passkey-button>Sign in with a passkey</button></p>
<p class="alert" role="alert" data-passkey-error hidden></p>
</div>
${script}
`;
}

export interface PasskeysView {
  user: User;
  passkeys: PasskeyInfo[];
  /** Signed in within the last 10 minutes: a passkey may be added now; otherwise sign in again first. */
  recentSignIn: boolean;
  /** A refused form of this section: what it shows again. */
  refused?: { alert?: string | Html | undefined; errors?: Record<string, string>; values?: Record<string, string>; id?: string | undefined; form?: 'confirm' | 'rename' | 'remove' } | undefined;
}

const when = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : 'never');

/** A labelled input with an id of its own (the dashboard has several forms asking the password and the code). */
function ownField(id: string, field: { name: string; label: string; type: 'password' | 'text'; autocomplete: string; error?: string | undefined }): Html {
  return html`<label for="${id}">${field.label}</label>
<input type="${field.type}" id="${id}" name="${field.name}" autocomplete="${field.autocomplete}" required${field.type === 'text' ? html` spellcheck="false" autocapitalize="off"` : ''}${field.error ? html` autofocus aria-invalid="true" aria-describedby="${id}-error"` : ''}>
${field.error ? html`<p class="field-error" id="${id}-error">${field.error}</p>\n` : ''}`;
}

/** The password, and the code when two-factor is on: what removing a passkey or signing in again asks. */
function reauthFields(user: User, key: string, errors: Record<string, string> = {}): Html {
  return html`${ownField(`${key}-password`, { name: 'currentPassword', label: 'Current password', type: 'password', autocomplete: 'current-password', error: errors.currentPassword })}${
    user.twoFactorEnabled ? ownField(`${key}-code`, { name: 'code', label: 'Code from your authenticator app (or a recovery code)', type: 'text', autocomplete: 'one-time-code', error: errors.code }) : ''
  }`;
}

function passkeyItem(ctx: Context, services: Web, view: PasskeysView, passkey: PasskeyInfo): Html {
  const refused = view.refused?.id === passkey.id ? view.refused : undefined;
  const errors = refused?.errors ?? {};
  const renameOpen = refused?.form === 'rename';
  const removeOpen = refused?.form === 'remove';
  return html`<li><div><strong>${passkey.name}</strong><br>
<span class="muted">Added ${when(passkey.createdAt)} · last used ${when(passkey.lastUsedAt)}</span>
${refused?.alert ? alertBox(refused.alert) : ''}<details${renameOpen ? html` open` : ''}><summary>Rename</summary><form method="post" action="/account/passkeys/rename">${csrfField(ctx, services, '/account/passkeys/rename')}<input type="hidden" name="id" value="${passkey.id}">
${ownName(passkey.id, { value: renameOpen ? (refused?.values?.name ?? passkey.name) : passkey.name, error: renameOpen ? errors.name : undefined })}
<button type="submit" class="secondary" aria-label="Rename the passkey ${passkey.name}">Rename</button></form></details>
<details${removeOpen ? html` open` : ''}><summary>Remove</summary><form method="post" action="/account/passkeys/remove">${csrfField(ctx, services, '/account/passkeys/remove')}<input type="hidden" name="id" value="${passkey.id}">
${reauthFields(view.user, `remove-${passkey.id}`, removeOpen ? errors : {})}<button type="submit" class="danger" aria-label="Remove the passkey ${passkey.name}">Remove</button></form></details></div></li>
`;
}

/** A passkey's name field, with an id of its own. */
function ownName(id: string, field: { value: string; error: string | undefined }): Html {
  const inputId = `rename-${id}`;
  return html`<label for="${inputId}">New name</label>
<input type="text" id="${inputId}" name="name" value="${field.value}" required maxlength="${String(PASSKEY_NAME_MAX)}" spellcheck="false"${field.error ? html` autofocus aria-invalid="true" aria-describedby="${inputId}-error"` : ''}>
${field.error ? html`<p class="field-error" id="${inputId}-error">${field.error}</p>\n` : ''}`;
}

/** The dashboard's Passkeys section. */
export function passkeysSection(ctx: Context, services: Web, view: PasskeysView, notice?: string): Html {
  const confirm = view.refused?.form === 'confirm' ? view.refused : undefined;
  const list =
    view.passkeys.length > 0
      ? html`<ul class="items">\n${view.passkeys.map((passkey) => passkeyItem(ctx, services, view, passkey))}</ul>\n`
      : say('No passkeys yet.', true);
  const add = view.recentSignIn
    ? html`<div data-passkey-register data-options-csrf="${csrfToken(ctx, services, REGISTER_OPTIONS_PATH)}" data-verify-csrf="${csrfToken(ctx, services, REGISTER_VERIFY_PATH)}" hidden>
${textField({ name: 'passkey-name', label: 'Name (optional)', value: '', required: false, extra: html` maxlength="${String(PASSKEY_NAME_MAX)}" placeholder="Laptop, phone, YubiKey…" spellcheck="false"` })}
<p><button type="button" data-passkey-button>Add a passkey</button></p>
<p class="alert" role="alert" data-passkey-error hidden></p>
</div>
<p class="muted" data-passkey-unavailable>Adding a passkey needs JavaScript and a browser with passkeys (WebAuthn).</p>
${script}
`
    : html`${alertBox(confirm?.alert)}${say('To add a passkey, confirm it is you first: you signed in more than 10 minutes ago.', true)}<form method="post" action="/account/passkeys/confirm">
${csrfField(ctx, services, '/account/passkeys/confirm')}
${reauthFields(view.user, 'confirm', confirm?.errors)}<button type="submit">Confirm and add a passkey</button>
</form>
`;
  return html`<h2 id="passkeys">Passkeys</h2>
${noticeBox(notice)}${view.refused && !view.refused.id && view.refused.form !== 'confirm' ? alertBox(view.refused.alert) : ''}${say('A passkey signs you in with your fingerprint, face, screen lock or security key: no password and no code to type, and nothing a look-alike site could catch. It signs a terminal in too, through `taskmaster login --web`.', true)}${list}${add}`;
}
