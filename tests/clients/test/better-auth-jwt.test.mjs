// Better Auth's jwt() plugin and session.cookieCache, the real package: the JWTs
// it signs and the caches it sets are accepted by the service exactly as documented.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { bearer, jwt } from 'better-auth/plugins';

import { SECRET, authRequest, graphql, signUp, startService } from '../lib/harness.mjs';

const BASE_URL = 'http://localhost:3000';
const BOTH = '{ me { id } tasks { totalCount } }';

function makeApp(pool, { plugins = [], session } = {}) {
  return betterAuth({
    database: pool,
    secret: SECRET,
    baseURL: BASE_URL,
    emailAndPassword: { enabled: true },
    plugins: [bearer(), ...plugins],
    ...(session ? { session } : {}),
    logger: { disabled: true },
  });
}

/** GET /api/auth/token with the session cookie: the jwt() plugin's JWT. */
async function fetchJwt(auth, cookie) {
  const response = await auth.handler(new Request(`${BASE_URL}/api/auth/token`, { headers: { cookie } }));
  assert.equal(response.status, 200);
  return (await response.json()).token;
}

function tamper(value) {
  const at = Math.floor(value.length / 2);
  return value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
}

function assertSignedIn(body, userId, what) {
  assert.equal(body.errors, undefined, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.data.me.id, userId, what);
  assert.equal(body.data.tasks.totalCount, 0, what);
}

function assertRefused(body, what) {
  assert.equal(body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', `${what}: ${JSON.stringify(body)}`);
}

describe('jwt() and the cookie cache, from the real package', () => {
  let service;
  before(async () => {
    service = await startService({ env: { BETTER_AUTH_URL: BASE_URL, JWKS_RELOAD_MIN_SECS: '1' } });
    // The jwt() plugin's migration adds the jwks table.
    const { runMigrations } = await getMigrations(makeApp(service.pool, { plugins: [jwt()] }).options);
    await runMigrations();
  });
  after(async () => {
    await service?.stop();
  });

  test('a JWT of each algorithm jwt() can be configured with signs in; tampered is refused; sign-out leaves it valid', async () => {
    for (const alg of ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256']) {
      // Better Auth signs with the newest key of any algorithm when none has the
      // configured one, so each algorithm starts from an empty jwks, as a new app would.
      await service.pool.query('DELETE FROM jwks');
      const auth = makeApp(service.pool, { plugins: [jwt({ jwks: { keyPairConfig: { alg } } })] });
      const user = await signUp(auth);
      const token = await fetchJwt(auth, user.cookie);
      const [header] = token.split('.');
      assert.equal(JSON.parse(Buffer.from(header, 'base64url')).alg, alg);
      // A new key appeared in jwks: the service reloads for the unknown kid (at most once a second).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const bearer = { authorization: `Bearer ${token}` };
      assertSignedIn(await graphql(service, BOTH, { headers: bearer }), user.userId, alg);
      const [h, p, s] = token.split('.');
      assertRefused(await graphql(service, BOTH, { headers: { authorization: `Bearer ${h}.${p}.${tamper(s)}` } }), `${alg} tampered`);
      await authRequest(auth, '/sign-out', { cookie: user.cookie });
      assertSignedIn(await graphql(service, BOTH, { headers: bearer }), user.userId, `${alg} after sign-out`);
    }
  });

  const strategies = [
    ['compact', { strategy: 'compact' }, []],
    ['jwt', { strategy: 'jwt' }, []],
    ['jwe', { strategy: 'jwe' }, []],
    ['jwt', { strategy: 'jwt' }, [jwt({ sessionCookieCache: true })]],
  ];
  for (const [strategy, cookieCache, plugins] of strategies) {
    const name = plugins.length ? `${strategy} with jwt({ sessionCookieCache: true })` : strategy;
    test(`the ${name} cookie cache is trusted only when told, and a tampered one falls back`, async () => {
      const auth = makeApp(service.pool, { plugins, session: { cookieCache: { enabled: true, ...cookieCache } } });
      const trusting = await service.another({
        BETTER_AUTH_URL: BASE_URL,
        TRUST_COOKIE_CACHE: 'true',
        COOKIE_CACHE_STRATEGY: strategy,
      });
      const user = await signUp(auth);
      assert.match(user.cookie, /better-auth\.session_data=/, 'Better Auth set the cache');
      const tampered = user.cookie.replace(/session_data=([^;]+)/, (_, value) => `session_data=${tamper(value)}`);
      assertSignedIn(await graphql(trusting, BOTH, { headers: { cookie: user.cookie } }), user.userId, 'trusted');
      assertSignedIn(await graphql(trusting, BOTH, { headers: { cookie: tampered } }), user.userId, 'tampered: the database answers');
      await authRequest(auth, '/sign-out', { cookie: user.cookie });
      assertSignedIn(
        await graphql(trusting, BOTH, { headers: { cookie: user.cookie } }),
        user.userId,
        'a trusted cache outlives sign-out (documented)',
      );
      assertRefused(await graphql(trusting, BOTH, { headers: { cookie: tampered } }), 'tampered after sign-out');
      assertRefused(await graphql(service, BOTH, { headers: { cookie: user.cookie } }), 'not trusted: sign-out holds');
    });
  }
});
