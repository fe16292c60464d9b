// Writes tests/fixtures/better-auth/token-vectors.json: what better-auth itself
// makes for one signed-up user — a jwt() JWT and a session.cookieCache cookie per
// strategy — with the longest lifetimes it allows (JWT: 50 years; session and
// cache: 400 days, the cookie Max-Age ceiling), so the Rust tests can check the
// service against the real package's own output; rerun it before they expire.
// Needs PostgreSQL (TEST_DATABASE_URL).
//   node tests/clients/scripts/token-vectors.mjs
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { jwt } from 'better-auth/plugins';
import pg from 'pg';

import { cookieHeader } from '../lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const output = join(here, '..', '..', 'fixtures', 'better-auth', 'token-vectors.json');
const SECRET = 'token-vectors-secret-0123456789abcdef0123';
const BASE_URL = 'http://localhost:3000';
const MAX_AGE = 400 * 24 * 3600;
const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const database = `vectors_${randomBytes(6).toString('hex')}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(serverUrl);
url.pathname = `/${database}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
// The database is dropped with FORCE at the end; its idle connections' errors are expected.
pool.on('error', () => {});

const app = (cookieCache, plugins = [jwt({ jwt: { expirationTime: '50y' } })]) =>
  betterAuth({
    database: pool,
    secret: SECRET,
    baseURL: BASE_URL,
    emailAndPassword: { enabled: true },
    session: { expiresIn: MAX_AGE, ...(cookieCache ? { cookieCache: { enabled: true, maxAge: MAX_AGE, ...cookieCache } } : {}) },
    plugins,
    logger: { disabled: true },
  });

try {
  await (await getMigrations(app().options)).runMigrations();
  const request = (auth, path, init = {}) =>
    auth.handler(new Request(`${BASE_URL}/api/auth${path}`, { headers: { origin: BASE_URL, ...init.headers }, ...init }));
  const signUp = async (auth) => {
    const body = JSON.stringify({ email: `v-${randomBytes(4).toString('hex')}@example.com`, password: 'vector-password-1', name: 'Vee' });
    const response = await request(auth, '/sign-up/email', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { userId: (await response.json()).user.id, cookie: cookieHeader(response) };
  };
  const vectors = { secret: SECRET, baseURL: BASE_URL, betterAuth: '1.7.25', caches: [] };
  const plain = await signUp(app());
  const token = await request(app(), '/token', { headers: { cookie: plain.cookie } });
  vectors.jwt = { userId: plain.userId, token: (await token.json()).token };
  for (const [strategy, plugins] of [
    ['compact', undefined],
    ['jwt', undefined],
    ['jwe', undefined],
    ['jwt', [jwt({ sessionCookieCache: true })]],
  ]) {
    const user = await signUp(app({ strategy }, plugins));
    vectors.caches.push({ strategy, jwtPluginKeys: !!plugins, userId: user.userId, cookie: user.cookie });
  }
  const rows = async (sql) => (await pool.query(sql)).rows;
  vectors.rows = {
    user: await rows(`SELECT id, name, email, "emailVerified", "createdAt", "updatedAt" FROM "user"`),
    session: await rows(`SELECT id, token, "userId", "expiresAt", "createdAt", "updatedAt" FROM session`),
    jwks: await rows(`SELECT id, "publicKey", alg, "createdAt" FROM jwks`),
  };
  writeFileSync(output, `${JSON.stringify(vectors, null, 2)}\n`);
  console.log(`wrote ${output}`);
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}
