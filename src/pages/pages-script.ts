// The one script the pages run (served as /assets/pages.js). A form marked data-action posts its
// fields as JSON to that API route, then shows the outcome in place of the form. With data-then, the
// first route signs in and the form's token goes to the second with the new access token. A sign-in
// that asks for a second factor shows #mfa-step: a code (authenticator app or recovery code) or a
// passkey, offered as the account's methods allow; WebAuthn goes through the browser's JSON helpers.
export const PAGES_SCRIPT = `
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('form[data-action]').forEach(function (form) {
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      var status = document.getElementById('status');
      form.querySelectorAll('.field-error').forEach(function (el) { el.remove(); });
      var body = {};
      new FormData(form).forEach(function (value, key) { body[key] = value; });
      if (form.dataset.confirm && body[form.dataset.confirm] !== body.confirm) {
        return showFieldError(form, 'confirm', 'The two passwords differ');
      }
      delete body.confirm;
      var button = form.querySelector('button');
      button.disabled = true;
      try {
        // data-then: sign in with the form first, then send the token to that route with the new session.
        var token = form.dataset.then ? body.token : undefined;
        if (form.dataset.then) delete body.token;
        var response = await post(form.dataset.action, body);
        var answer = await response.json().catch(function () { return {}; });
        // An account with a second factor: the sign-in waits for it (the page's second step).
        if (response.ok && answer.data && answer.data.mfaRequired) {
          var step = document.getElementById('mfa-step');
          if (step) {
            var methods = answer.data.methods || [];
            var byCode = methods.indexOf('totp') >= 0 || methods.indexOf('recovery_code') >= 0;
            form.hidden = true;
            step.hidden = false;
            step.dataset.mfaToken = answer.data.mfaToken;
            step.dataset.then = form.dataset.then || '';
            step.dataset.thenToken = token || '';
            step.dataset.success = form.dataset.success || '';
            document.getElementById('mfa-code-form').hidden = !byCode;
            document.getElementById('mfa-passkey').hidden = methods.indexOf('webauthn') < 0;
            (byCode ? document.getElementById('mfa-code') : document.getElementById('mfa-passkey')).focus();
            return;
          }
        }
        if (response.ok && form.dataset.then) {
          response = await post(form.dataset.then, { token: token }, answer.data && answer.data.accessToken);
          answer = await response.json().catch(function () { return {}; });
        }
        if (response.ok) {
          form.hidden = true;
          show(status, 'ok', form.dataset.success || answer.message || 'Done');
        } else if (response.status === 422 && answer.errors) {
          answer.errors.forEach(function (e) { showFieldError(form, e.field, e.message); });
        } else {
          if (response.status === 400) form.hidden = true;
          show(status, 'error', answer.message || 'Something went wrong. Please try again.');
        }
      } catch (e) {
        show(status, 'error', 'Gatehouse could not be reached. Please try again.');
      } finally {
        button.disabled = false;
      }
    });
  });
  var step = document.getElementById('mfa-step');
  /** The second step: \`proof\` answers the body for /auth/mfa/verify; then the form's next route, as after a one-step sign-in. */
  async function secondStep(button, proof) {
    var status = document.getElementById('status');
    button.disabled = true;
    try {
      var body = await proof();
      if (!body) return;
      body.mfaToken = step.dataset.mfaToken;
      var response = await post('/auth/mfa/verify', body);
      var answer = await response.json().catch(function () { return {}; });
      if (response.ok && step.dataset.then) {
        response = await post(step.dataset.then, { token: step.dataset.thenToken }, answer.data && answer.data.accessToken);
        answer = await response.json().catch(function () { return {}; });
      }
      if (response.ok) {
        step.hidden = true;
        show(status, 'ok', step.dataset.success || answer.message || 'Done');
      } else {
        show(status, 'error', answer.message || (answer.errors && answer.errors[0] && answer.errors[0].message) || 'Something went wrong. Please try again.');
      }
    } catch (e) {
      show(status, 'error', 'Gatehouse could not be reached. Please try again.');
    } finally {
      button.disabled = false;
    }
  }
  if (step) document.getElementById('mfa-code-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var input = document.getElementById('mfa-code');
    var code = input.value.trim();
    input.value = '';
    return secondStep(event.target.querySelector('button'), async function () {
      return { method: /^\\d{6}$/.test(code) ? 'totp' : 'recovery_code', code: code };
    });
  });
  if (step) document.getElementById('mfa-passkey').addEventListener('click', function (event) {
    var status = document.getElementById('status');
    return secondStep(event.target, async function () {
      if (!(window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON)) {
        show(status, 'error', 'This browser cannot use passkeys here: use a code instead.');
        return null;
      }
      var options = await post('/auth/mfa/webauthn/options', { mfaToken: step.dataset.mfaToken });
      var answer = await options.json().catch(function () { return {}; });
      if (!options.ok) { show(status, 'error', answer.message || 'Something went wrong. Please try again.'); return null; }
      try {
        var credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(answer.data) });
        return { method: 'webauthn', response: credential.toJSON() };
      } catch (e) {
        show(status, 'error', 'The passkey was not used.');
        return null;
      }
    });
  });
  function post(url, body, accessToken) {
    var headers = { 'content-type': 'application/json' };
    if (accessToken) headers.authorization = 'Bearer ' + accessToken;
    return fetch(url, { method: 'POST', headers: headers, body: JSON.stringify(body) });
  }
  function show(el, kind, message) {
    el.className = 'outcome ' + kind;
    el.textContent = message;
    el.hidden = false;
  }
  function showFieldError(form, field, message) {
    var input = form.querySelector('[name="' + field + '"]') || form.querySelector('button');
    var p = document.createElement('p');
    p.className = 'field-error';
    p.textContent = message;
    input.insertAdjacentElement('afterend', p);
  }
});
`;
