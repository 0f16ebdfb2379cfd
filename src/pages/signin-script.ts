// The script of the hosted sign-in pages (served as /assets/signin.js): the pages are plain forms that
// work without it; where the browser has WebAuthn it shows the passkey forms and, on their submit,
// runs the ceremony (options from the API, the authenticator through the browser's own JSON helpers)
// and posts the authenticator's answer in the form, so the browser follows the sign-in's redirects
// as for any form.
export const SIGNIN_SCRIPT = `
'use strict';
(function () {
  if (!(window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON)) return;
  function say(form, message) {
    var status = form.querySelector('.outcome');
    if (!status) {
      status = document.createElement('p');
      status.className = 'outcome error';
      status.setAttribute('role', 'status');
      form.insertBefore(status, form.firstChild);
    }
    status.textContent = message;
  }
  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    form.hidden = false;
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener('submit', async function (event) {
      if (form.elements.response.value) return;
      event.preventDefault();
      button.disabled = true;
      try {
        var token = form.elements.mfaToken;
        var answer = await fetch(form.getAttribute('data-passkey'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(token ? { mfaToken: token.value } : {}),
        });
        if (!answer.ok) throw new Error('options');
        var options = (await answer.json()).data;
        var credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
        form.elements.response.value = JSON.stringify(credential.toJSON());
        form.submit();
      } catch (e) {
        button.disabled = false;
        say(form, 'The passkey was not used. Try again, or use another way.');
      }
    });
  });
})();
`;
