// Better Auth, the real package, signs people in; the service must recognise
// exactly the sessions Better Auth itself would accept.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authRequest, graphql, makeAuth, signUp, startService } from '../lib/harness.mjs';

const ME = '{ me { id email } }';

describe('Better Auth sessions', () => {
  let service;
  before(async () => {
    service = await startService();
  });
  after(async () => {
    await service?.stop();
  });

  test('the Set-Cookie of sign-up signs the user in', async () => {
    const user = await signUp(service.auth);
    assert.match(user.cookie, /^better-auth\.session_token=/);
    const body = await graphql(service, ME, { headers: { cookie: user.cookie } });
    assert.deepEqual(body.data.me, { id: user.userId, email: user.email });
  });

  test('set-auth-token and the bare sign-in token work as bearer', async () => {
    const user = await signUp(service.auth);
    assert.ok(user.setAuthToken?.includes('.'), 'bearer() sends the signed token in set-auth-token');
    const signIn = await authRequest(service.auth, '/sign-in/email', {
      body: { email: user.email, password: user.password },
    });
    const { token } = await signIn.json();
    for (const bearer of [user.setAuthToken, token]) {
      const body = await graphql(service, ME, { headers: { authorization: `Bearer ${bearer}` } });
      assert.equal(body.data.me?.id, user.userId, bearer);
    }
  });

  test('after sign-out, and after revoke-sessions, the same cookie is UNAUTHENTICATED', async () => {
    for (const path of ['/sign-out', '/revoke-sessions']) {
      const user = await signUp(service.auth);
      const before = await graphql(service, '{ taskStats { total } }', { headers: { cookie: user.cookie } });
      assert.equal(before.data.taskStats.total, 0);
      await authRequest(service.auth, path, { cookie: user.cookie });
      const afterwards = await graphql(service, '{ taskStats { total } }', { headers: { cookie: user.cookie } });
      assert.equal(afterwards.errors[0].extensions.code, 'UNAUTHENTICATED', path);
      const me = await graphql(service, ME, { headers: { cookie: user.cookie } });
      assert.equal(me.data.me, null, path);
    }
  });

  test('with an https base URL the __Secure- cookie works', async () => {
    const secure = makeAuth({ pool: service.pool, baseURL: 'https://app.example.com' });
    const user = await signUp(secure, { baseURL: 'https://app.example.com' });
    assert.match(user.cookie, /^__Secure-better-auth\.session_token=/);
    const body = await graphql(service, ME, { headers: { cookie: user.cookie } });
    assert.equal(body.data.me?.id, user.userId);
  });
});

describe('a custom cookie prefix', () => {
  let service;
  before(async () => {
    service = await startService({ cookiePrefix: 'myapp' });
  });
  after(async () => {
    await service?.stop();
  });

  test('works when the service is told the same prefix', async () => {
    const user = await signUp(service.auth);
    assert.match(user.cookie, /^myapp\.session_token=/);
    const body = await graphql(service, ME, { headers: { cookie: user.cookie } });
    assert.equal(body.data.me?.id, user.userId);
    const renamed = user.cookie.replace(/^myapp\./, 'better-auth.');
    const other = await graphql(service, ME, { headers: { cookie: renamed } });
    assert.equal(other.data.me, null, 'the default name is not read when a prefix is configured');
  });
});
