// The OpenID Provider's hosted sign-in and second factors: until the hosted pages ask for the second
// step, an account that has one is refused there with its right password, and no session, code or
// token comes of it. One more way in that must not get around a second factor.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { registerUser, PASSWORD } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { enableTotp, SECRET_KEY } from './helpers/mfa.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const CALLBACK = 'http://rp.test/callback';

forEachDatabase(
  'the OpenID Provider and second factors',
  (h) => {
    it('refuses the hosted sign-in to an account with a second factor: no callback, no session', async () => {
      await h().app.listen({ port: PORT, host: '127.0.0.1' });
      const admin = await makeAdmin(h().app, h().db);
      const registered = await registerClient(h().app, admin.accessToken, { name: 'Notes', redirectUris: [CALLBACK], type: 'confidential', firstParty: true });
      const config = await discover(BASE, registered);
      const user = await enableTotp(h().app, h().clock, await registerUser(h().app));
      const sessionsBefore = await h().db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).execute();

      const request = await authorizationRequest(config, CALLBACK);
      const navigator = new Navigator('http://rp.test');
      const signInPage = await navigator.go(request.url.href);
      assert.equal(signInPage.status, 200, signInPage.html);
      const answer = await navigator.submit(signInPage, '/login', { email: user.email, password: PASSWORD });
      assert.equal(answer.callback, null, 'sent back to the application without the second factor');
      assert.match(answer.html, /second factor/i);
      assert.doesNotMatch(answer.html, /code=/);

      const sessionsAfter = await h().db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).execute();
      assert.deepEqual(sessionsAfter, sessionsBefore, 'a session was opened');
      const issued = await h().db.selectFrom('oidc_payloads').select('model').where('model', 'in', ['AuthorizationCode', 'AccessToken', 'RefreshToken']).execute();
      assert.deepEqual(issued, []);
    });
  },
  { ...SECRET_KEY, PUBLIC_URL: BASE },
);
