// The script of the hosted security page (/account/security, served as /assets/account.js) and of
// the invitation page's second step: sign in (password, then a second factor; or a passkey alone),
// then manage the authenticator app, recovery codes and passkeys through the API. The access token
// lives in this page's memory only. WebAuthn goes through the browser's own JSON helpers.
export const ACCOUNT_SCRIPT = `
'use strict';
(function () {
  var token = null;
  var mfaToken = null;
  var mode = 'sign-in';
  var retry = null;
  var $ = function (id) { return document.getElementById(id); };

  function show(kind, message) {
    var el = $('status');
    el.className = 'outcome ' + kind;
    el.textContent = message;
    el.hidden = false;
  }
  function clear() { $('status').hidden = true; }
  async function api(method, url, body) {
    var headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = 'Bearer ' + token;
    var response = await fetch(url, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    var answer = await response.json().catch(function () { return {}; });
    return { ok: response.ok, status: response.status, body: answer };
  }
  function failure(answer) {
    if (answer.body.errors) return answer.body.errors.map(function (e) { return e.message; }).join(' ');
    return answer.body.message || 'Something went wrong. Please try again.';
  }
  function webauthnSupported() {
    return window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON && PublicKeyCredential.parseCreationOptionsFromJSON;
  }
  async function assertion(options) {
    var credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
    return credential.toJSON();
  }
  function section(name) {
    ['signin', 'second-step', 'panel'].forEach(function (id) { var el = $(id); if (el) el.hidden = id !== name; });
  }
  async function signedIn(answer) {
    if (answer.body.data && answer.body.data.mfaRequired) {
      mfaToken = answer.body.data.mfaToken;
      mode = 'sign-in';
      var methods = answer.body.data.methods || [];
      $('second-passkey').hidden = methods.indexOf('webauthn') < 0;
      section('second-step');
      $('code').focus();
      return;
    }
    token = answer.body.data.accessToken;
    mfaToken = null;
    clear();
    document.dispatchEvent(new CustomEvent('gatehouse:signed-in', { detail: { token: token } }));
    if ($('panel')) { await refresh(); section('panel'); }
  }
  /** A step-up route answered STEP_UP_REQUIRED: ask for a factor, then do it again. */
  function stepUp(again) {
    mode = 'step-up';
    retry = again;
    $('second-passkey').hidden = false;
    section('second-step');
    show('error', 'Confirm it is you with a second factor, then the change goes ahead.');
    $('code').focus();
  }
  async function stepped(answer) {
    if (!answer.ok) return show('error', failure(answer));
    token = answer.body.data.accessToken;
    section('panel');
    clear();
    var again = retry;
    retry = null;
    if (again) await again();
  }
  /** Runs a change; on STEP_UP_REQUIRED asks for a factor first. */
  async function change(run) {
    var answer = await run();
    if (answer.status === 403 && answer.body.code === 'STEP_UP_REQUIRED') { stepUp(function () { return change(run); }); return null; }
    if (!answer.ok) { show('error', failure(answer)); return null; }
    return answer;
  }

  async function refresh() {
    var mfa = await api('GET', '/api/users/me/mfa');
    if (!mfa.ok) return show('error', failure(mfa));
    var state = mfa.body.data;
    $('totp-state').textContent = state.totp ? 'An authenticator app is on.' : 'No authenticator app is set up.';
    $('totp-start').hidden = state.totp;
    $('totp-off').hidden = !state.totp;
    $('codes-left').textContent = state.recoveryCodesLeft + ' recovery code' + (state.recoveryCodesLeft === 1 ? '' : 's') + ' left.';
    $('codes-new').hidden = !(state.totp || state.passkeys > 0);
    var list = await api('GET', '/api/users/me/passkeys');
    var ul = $('passkeys');
    ul.textContent = '';
    (list.body.data ? list.body.data.passkeys : []).forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p.name + ' ';
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'inline';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', 'Remove the passkey ' + p.name);
      remove.addEventListener('click', async function () {
        if (await change(function () { return api('DELETE', '/api/users/me/passkeys/' + encodeURIComponent(p.passkeyId)); })) { show('ok', 'The passkey was removed.'); await refresh(); }
      });
      li.appendChild(remove);
      ul.appendChild(li);
    });
    if (ul.children.length === 0) { var none = document.createElement('li'); none.textContent = 'No passkeys yet.'; ul.appendChild(none); }
  }
  function showCodes(codes) {
    var ol = $('codes');
    ol.textContent = '';
    codes.forEach(function (c) { var li = document.createElement('li'); li.textContent = c; ol.appendChild(li); });
    ol.hidden = false;
    $('codes-hint').hidden = false;
  }

  function on(id, event, handler) { var el = $(id); if (el) el.addEventListener(event, function (e) { e.preventDefault(); handler(e); }); }

  document.addEventListener('DOMContentLoaded', function () {
    on('signin-form', 'submit', async function () {
      var form = $('signin-form');
      var answer = await api('POST', '/auth/login', { email: form.email.value, password: form.password.value });
      if (!answer.ok) return show('error', failure(answer));
      await signedIn(answer);
    });
    on('passkey-signin', 'click', async function () {
      if (!webauthnSupported()) return show('error', 'This browser cannot use passkeys here.');
      try {
        var options = await api('POST', '/auth/passkey/options');
        var answer = await api('POST', '/auth/passkey/verify', { response: await assertion(options.body.data) });
        if (!answer.ok) return show('error', failure(answer));
        await signedIn(answer);
      } catch (e) { show('error', 'The passkey was not used.'); }
    });
    on('code-form', 'submit', async function () {
      var code = $('code').value.trim();
      var method = /^\\d{6}$/.test(code) ? 'totp' : 'recovery_code';
      $('code').value = '';
      if (mode === 'step-up') return stepped(await api('POST', '/auth/step-up', { method: method, code: code }));
      var answer = await api('POST', '/auth/mfa/verify', { mfaToken: mfaToken, method: method, code: code });
      if (!answer.ok) return show('error', failure(answer));
      await signedIn(answer);
    });
    on('second-passkey', 'click', async function () {
      if (!webauthnSupported()) return show('error', 'This browser cannot use passkeys here.');
      try {
        if (mode === 'step-up') {
          var stepOptions = await api('POST', '/auth/step-up/webauthn/options');
          return stepped(await api('POST', '/auth/step-up', { method: 'webauthn', response: await assertion(stepOptions.body.data) }));
        }
        var options = await api('POST', '/auth/mfa/webauthn/options', { mfaToken: mfaToken });
        if (!options.ok) return show('error', failure(options));
        var answer = await api('POST', '/auth/mfa/verify', { mfaToken: mfaToken, method: 'webauthn', response: await assertion(options.body.data) });
        if (!answer.ok) return show('error', failure(answer));
        await signedIn(answer);
      } catch (e) { show('error', 'The passkey was not used.'); }
    });
    on('totp-start', 'click', async function () {
      var answer = await change(function () { return api('POST', '/api/users/me/mfa/totp'); });
      if (!answer) return;
      var qr = $('qr');
      qr.textContent = '';
      // The SVG is the server's own rendering of the otpauth URI, parsed as an image document.
      var svg = new DOMParser().parseFromString(answer.body.data.qrSvg, 'image/svg+xml').documentElement;
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', 'QR code of the authenticator app secret');
      qr.appendChild(document.importNode(svg, true));
      $('totp-secret').textContent = answer.body.data.secret;
      $('totp-enrol').hidden = false;
      $('totp-code').focus();
    });
    on('totp-confirm', 'submit', async function () {
      var answer = await api('POST', '/api/users/me/mfa/totp/confirm', { code: $('totp-code').value.trim() });
      if (!answer.ok) return show('error', failure(answer));
      $('totp-enrol').hidden = true;
      show('ok', 'The authenticator app is on. Keep these recovery codes somewhere safe: they are shown once.');
      showCodes(answer.body.data.recoveryCodes);
      await refresh();
    });
    on('totp-off', 'click', async function () {
      if (await change(function () { return api('DELETE', '/api/users/me/mfa/totp'); })) { show('ok', 'The authenticator app is off.'); await refresh(); }
    });
    on('codes-new', 'click', async function () {
      var answer = await change(function () { return api('POST', '/api/users/me/mfa/recovery-codes'); });
      if (!answer) return;
      show('ok', 'New recovery codes: the old ones no longer work. They are shown once.');
      showCodes(answer.body.data.recoveryCodes);
      await refresh();
    });
    on('passkey-add', 'submit', async function () {
      if (!webauthnSupported()) return show('error', 'This browser cannot use passkeys here.');
      var name = $('passkey-name').value.trim();
      var options = await change(function () { return api('POST', '/api/users/me/passkeys/options'); });
      if (!options) return;
      try {
        var credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body.data) });
        var body = { response: credential.toJSON() };
        if (name) body.name = name;
        var answer = await api('POST', '/api/users/me/passkeys', body);
        if (!answer.ok) return show('error', failure(answer));
        $('passkey-name').value = '';
        show('ok', 'The passkey ' + answer.body.data.name + ' was added.');
        await refresh();
      } catch (e) { show('error', 'No passkey was added.'); }
    });
    on('signout', 'click', async function () {
      await api('POST', '/auth/logout', {});
      token = null;
      section('signin');
      show('ok', 'You are signed out.');
    });
  });
})();
`;
