// Better Auth set-ups other than the default, built with the real package: its
// Kysely adapter with usePlural, uuid ids and admin(); its Kysely adapter with
// custom model names and fields; its Drizzle adapter over the schema Better Auth's
// CLI generated (snake_case, uuid, timestamps without time zone, usePlural,
// admin()). Each time the service, told the matching settings, answers `me` and
// `tasks` for the user Better Auth signed in, and refuses a tampered cookie, a
// signed-out session and a banned user (banned through Better Auth's admin API).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { kyselyAdapter } from '@better-auth/kysely-adapter';
import { betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { getMigrations } from 'better-auth/db/migration';
import { admin, bearer } from 'better-auth/plugins';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

import * as drizzleSchema from '../fixtures/drizzle-schema.mjs';
import { SECRET, authRequest, graphql, onServer, signUp, spawnInstance } from '../lib/harness.mjs';

const ME = '{ me { id email } }';
const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const drizzleSql = readFileSync(new URL('../../fixtures/better-auth/drizzle-plural-uuid-admin.sql', import.meta.url), 'utf8');

/** A fresh database; answers its URL, a pool on it and `drop()`. */
async function freshDatabase() {
  const name = `clients_schemas_${randomBytes(6).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const common = {
  secret: SECRET,
  baseURL: 'http://localhost:3000',
  emailAndPassword: { enabled: true },
  logger: { disabled: true },
};

/** Each set-up: how Better Auth is built, how its tables are made, what the service is told. */
const setups = {
  'Kysely, usePlural, generateId "uuid", admin()': {
    async build(database) {
      const options = {
        ...common,
        advanced: { database: { generateId: 'uuid' } },
        plugins: [bearer(), admin()],
      };
      // Better Auth's own migration ignores usePlural; the same tables, named plural.
      const plural = { modelName: 'users' };
      const { runMigrations } = await getMigrations(
        betterAuth({
          ...options,
          database: database.pool,
          user: plural,
          session: { modelName: 'sessions' },
          account: { modelName: 'accounts' },
          verification: { modelName: 'verifications' },
        }).options,
      );
      await runMigrations();
      const db = new Kysely({ dialect: new PostgresDialect({ pool: database.pool }) });
      return betterAuth({ ...options, database: kyselyAdapter(db, { type: 'postgres', usePlural: true }) });
    },
    env: { BETTER_AUTH_USE_PLURAL: 'true' },
    users: 'users',
    sessions: 'sessions',
    token: 'token',
    uuid: true,
  },
  'Kysely, custom model names and fields': {
    async build(database) {
      const options = {
        ...common,
        database: database.pool,
        user: { modelName: 'member', fields: { email: 'mail', emailVerified: 'verified' } },
        session: { modelName: 'login', fields: { token: 'secret', userId: 'memberId', expiresAt: 'validUntil' } },
        plugins: [bearer(), admin()],
      };
      const { runMigrations } = await getMigrations(betterAuth(options).options);
      await runMigrations();
      return betterAuth(options);
    },
    env: {
      BETTER_AUTH_USER_MODEL_NAME: 'member',
      BETTER_AUTH_SESSION_MODEL_NAME: 'login',
      BETTER_AUTH_USER_FIELDS: 'email=mail,emailVerified=verified',
      BETTER_AUTH_SESSION_FIELDS: 'token=secret,userId=memberId,expiresAt=validUntil',
    },
    users: 'member',
    sessions: 'login',
    token: 'secret',
    uuid: false,
  },
  'Drizzle, its generated schema (snake_case, uuid, timestamp), usePlural, admin()': {
    async build(database) {
      await database.pool.query(drizzleSql);
      const db = drizzle(database.pool, { schema: drizzleSchema });
      return betterAuth({
        ...common,
        database: drizzleAdapter(db, { provider: 'pg', usePlural: true, schema: drizzleSchema }),
        advanced: { database: { generateId: 'uuid' } },
        plugins: [bearer(), admin()],
      });
    },
    env: { BETTER_AUTH_USE_PLURAL: 'true', BETTER_AUTH_CASING: 'snake_case' },
    users: 'users',
    sessions: 'sessions',
    token: 'token',
    uuid: true,
  },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const [name, setup] of Object.entries(setups)) {
  describe(name, () => {
    let database;
    let auth;
    let service;
    before(async () => {
      database = await freshDatabase();
      auth = await setup.build(database);
      service = await spawnInstance({ databaseUrl: database.url, env: setup.env });
    });
    after(async () => {
      await service?.stop();
      await database?.drop();
    });

    test('the user Better Auth signed in reads and writes tasks; a tampered cookie is nobody', async () => {
      const user = await signUp(auth);
      if (setup.uuid) assert.match(user.userId, UUID);
      const me = await graphql(service, ME, { headers: { cookie: user.cookie } });
      assert.deepEqual(me.data.me, { id: user.userId, email: user.email });
      const created = await graphql(service, 'mutation { createTask(input: { title: "from Better Auth" }) { title } }', {
        headers: { authorization: `Bearer ${user.token}` },
      });
      assert.equal(created.data?.createTask.title, 'from Better Auth', JSON.stringify(created));
      const tasks = await graphql(service, '{ tasks { nodes { title } } }', { headers: { cookie: user.cookie } });
      assert.deepEqual(tasks.data.tasks.nodes, [{ title: 'from Better Auth' }]);
      const tampered = user.cookie.replace(/session_token=./, (m) => m.slice(0, -1) + (m.endsWith('A') ? 'B' : 'A'));
      const refused = await graphql(service, ME, { headers: { cookie: tampered } });
      assert.equal(refused.data.me, null);
    });

    test('after sign-out the same cookie is UNAUTHENTICATED', async () => {
      const user = await signUp(auth);
      await authRequest(auth, '/sign-out', { cookie: user.cookie });
      const body = await graphql(service, '{ tasks { totalCount } }', { headers: { cookie: user.cookie } });
      assert.equal(body.errors?.[0].extensions.code, 'UNAUTHENTICATED', JSON.stringify(body));
    });

    test('a user banned through the admin API is refused, even with a session that survives the ban', async () => {
      const boss = await signUp(auth, { name: 'Boss' });
      await database.pool.query(`UPDATE "${setup.users}" SET role = 'admin' WHERE id = $1`, [boss.userId]);
      const user = await signUp(auth);
      const saved = await database.pool.query(`SELECT * FROM "${setup.sessions}" WHERE "${setup.token}" = $1`, [
        user.token,
      ]);
      assert.equal(saved.rows.length, 1);
      const restore = async () => {
        const row = saved.rows[0];
        const columns = Object.keys(row).map((c) => `"${c}"`);
        const values = Object.keys(row).map((_, i) => `$${i + 1}`);
        await database.pool.query(
          `INSERT INTO "${setup.sessions}" (${columns}) VALUES (${values}) ON CONFLICT DO NOTHING`,
          Object.values(row),
        );
      };
      const me = async () => (await graphql(service, ME, { headers: { cookie: user.cookie } })).data.me;

      await authRequest(auth, '/admin/ban-user', { cookie: boss.cookie, body: { userId: user.userId } });
      assert.equal(await me(), null, 'Better Auth deleted the sessions');
      await restore();
      assert.equal(await me(), null, 'a session that survives the ban is refused by the ban itself');
      await authRequest(auth, '/admin/unban-user', { cookie: boss.cookie, body: { userId: user.userId } });
      assert.equal((await me())?.id, user.userId, 'unbanned: the same session works again');

      await authRequest(auth, '/admin/ban-user', {
        cookie: boss.cookie,
        body: { userId: user.userId, banExpiresIn: 1 },
      });
      await restore();
      assert.equal(await me(), null, 'banned for a second');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal((await me())?.id, user.userId, 'a ban whose banExpires has passed no longer counts');
    });
  });
}
