// The one script the pages run (served as /assets/pages.js). A form marked data-action posts its
// fields as JSON to that API route, then shows the outcome in place of the form. With data-then, the
// first route signs in and the form's token goes to the second with the new access token.
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
            form.hidden = true;
            step.hidden = false;
            step.dataset.mfaToken = answer.data.mfaToken;
            step.dataset.then = form.dataset.then || '';
            step.dataset.thenToken = token || '';
            step.dataset.success = form.dataset.success || '';
            step.querySelector('input').focus();
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
  if (step) step.addEventListener('submit', async function (event) {
    event.preventDefault();
    var status = document.getElementById('status');
    var input = step.querySelector('input');
    var code = input.value.trim();
    input.value = '';
    var button = step.querySelector('button');
    button.disabled = true;
    try {
      var response = await post('/auth/mfa/verify', { mfaToken: step.dataset.mfaToken, method: /^\\d{6}$/.test(code) ? 'totp' : 'recovery_code', code: code });
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
