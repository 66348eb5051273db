// The pages' passkey script (served as /assets/passkeys.js, bundled with @simplewebauthn/browser by
// esbuild: see ../script.ts). It only adds to pages that work without it: on /login, "Sign in with a
// passkey" (and the passkeys the browser offers in the email field's autofill); on /account, "Add a
// passkey". Both are hidden until this script finds WebAuthn in the browser. Every request is a JSON
// POST to this origin carrying the CSRF token the page gave it.
import { WebAuthnError, browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication, startRegistration } from '@simplewebauthn/browser';

/** POSTs JSON to this origin; the answer's JSON, or an Error saying the problem's `detail`. */
async function post(path, body) {
  const response = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(answer.detail || `The server answered ${response.status}. Try again.`);
    error.status = response.status;
    error.code = answer.code;
    throw error;
  }
  return answer;
}

/** What went wrong, in words (a prompt closed or timed out says so; nothing happened). */
function message(error) {
  if (error instanceof WebAuthnError) {
    if (error.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return 'This passkey is added to your account already.';
    if (error.code === 'ERROR_INVALID_DOMAIN' || error.code === 'ERROR_INVALID_RP_ID') return 'Passkeys do not work at this address: open the site at its own address (PUBLIC_URL).';
  }
  if (error && error.name === 'NotAllowedError') return 'The passkey prompt was closed or timed out: nothing happened. Try again.';
  return (error && error.message) || 'That did not work. Try again.';
}

const aborted = (error) => (error instanceof WebAuthnError && error.code === 'ERROR_CEREMONY_ABORTED') || (error && error.name === 'AbortError');

function showError(box, error) {
  const place = box.querySelector('[data-passkey-error]');
  place.textContent = message(error);
  place.hidden = false;
}

async function setUpSignIn(box) {
  const { optionsCsrf, verifyCsrf, next } = box.dataset;
  const button = box.querySelector('[data-passkey-button]');
  const signIn = async (autofill) => {
    const optionsJSON = await post('/login/passkey/options', { csrf: optionsCsrf });
    const response = await startAuthentication({ optionsJSON, useBrowserAutofill: autofill });
    button.disabled = true;
    const done = await post('/login/passkey', { csrf: verifyCsrf, response, next });
    window.location.assign(done.location);
  };
  box.hidden = false;
  button.addEventListener('click', () => {
    box.querySelector('[data-passkey-error]').hidden = true;
    signIn(false).catch((error) => {
      button.disabled = false;
      if (!aborted(error)) showError(box, error);
    });
  });
  // Conditional UI: the browser lists the site's passkeys in the email field's suggestions.
  if (await browserSupportsWebAuthnAutofill()) {
    signIn(true).catch((error) => {
      if (!aborted(error) && error.status) showError(box, error);
    });
  }
}

function setUpRegistration(box) {
  const { optionsCsrf, verifyCsrf } = box.dataset;
  const button = box.querySelector('[data-passkey-button]');
  const nameInput = box.querySelector('input[name="passkey-name"]');
  box.hidden = false;
  const unavailable = document.querySelector('[data-passkey-unavailable]');
  if (unavailable) unavailable.hidden = true;
  button.addEventListener('click', async () => {
    box.querySelector('[data-passkey-error]').hidden = true;
    button.disabled = true;
    try {
      const optionsJSON = await post('/account/passkeys/options', { csrf: optionsCsrf });
      const response = await startRegistration({ optionsJSON });
      const done = await post('/account/passkeys', { csrf: verifyCsrf, response, name: nameInput ? nameInput.value : '' });
      window.location.assign(done.location);
    } catch (error) {
      button.disabled = false;
      // Signed in too long ago: the page again, now with the form to sign in again.
      if (error.code === 'reauthentication_required') window.location.assign('/account?done=sign_in_again#passkeys');
      else showError(box, error);
    }
  });
}

if (browserSupportsWebAuthn()) {
  const signIn = document.querySelector('[data-passkey-login]');
  if (signIn) void setUpSignIn(signIn);
  const register = document.querySelector('[data-passkey-register]');
  if (register) setUpRegistration(register);
}
