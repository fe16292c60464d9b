// Starts what each check needs, for real: a fresh PostgreSQL database, Better Auth
// (the npm package) on it with its own migration, and the service binary on a free
// port against the same database and secret.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { bearer } from 'better-auth/plugins';
import pg from 'pg';

export const SECRET = 'client-suite-secret-0123456789abcdef01234567';
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');

/** The service binary `cargo build` made. */
export function binaryPath() {
  const path =
    process.env.TODO_GRAPHQL_BIN ??
    join(process.env.CARGO_TARGET_DIR ?? join(repo, 'target'), 'debug', 'todo-graphql');
  if (!existsSync(path)) {
    throw new Error(`no service binary at ${path}: run \`cargo build\` first (or set TODO_GRAPHQL_BIN)`);
  }
  return path;
}

const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `sql` on the server's maintenance database (CREATE/DROP DATABASE). */
export async function onServer(sql) {
  const client = new pg.Client({ connectionString: serverUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`no PostgreSQL at TEST_DATABASE_URL (${new URL(serverUrl).host}): ${err.message}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Better Auth as the frontend configures it: e-mail and password, bearer(). */
export function makeAuth({ databaseUrl, baseURL = 'http://localhost:3000', cookiePrefix, pool }) {
  return betterAuth({
    database: pool ?? new pg.Pool({ connectionString: databaseUrl, max: 2 }),
    secret: SECRET,
    baseURL,
    emailAndPassword: { enabled: true },
    plugins: [bearer()],
    ...(cookiePrefix ? { advanced: { cookiePrefix } } : {}),
    logger: { disabled: true },
  });
}

/**
 * The service binary on a free port against `databaseUrl`; answers its URLs, its
 * pid (for resident memory), its log and `stop()` (SIGTERM, then waits for the exit).
 * `env` may be a function of the port, for settings that name the service's own origin.
 */
export async function spawnInstance({ databaseUrl, cookiePrefix, env = {} }) {
  const port = await freePort();
  const extra = typeof env === 'function' ? env(port) : env;
  const child = spawn(binaryPath(), [], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      BETTER_AUTH_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      CORS_ORIGINS: 'http://localhost:3000',
      ...(cookiePrefix ? { BETTER_AUTH_COOKIE_PREFIX: cookiePrefix } : {}),
      ...extra,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited: ${log}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 20_000) {
      child.kill('SIGTERM');
      throw new Error(`the service did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    pid: child.pid,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * A fresh database with Better Auth's tables, and the service serving it.
 * `another()` starts one more instance on the same database (stopped with the
 * rest). Call `stop()` at the end.
 */
export async function startService({ cookiePrefix, env = {} } = {}) {
  const database = `clients_${randomBytes(6).toString('hex')}`;
  await onServer(`CREATE DATABASE ${database}`);
  const databaseUrl = withDatabase(serverUrl, database);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const auth = makeAuth({ databaseUrl, cookiePrefix, pool });
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();

  const instances = [];
  const launch = async (settings) => {
    const instance = await spawnInstance({ databaseUrl, cookiePrefix, env: settings ?? env });
    instances.push(instance);
    return instance;
  };
  const first = await launch();
  return {
    ...first,
    databaseUrl,
    auth,
    pool,
    /** One more instance of the service on the same database, like a second Fly machine. */
    another: (settings) => launch(settings),
    async stop() {
      await Promise.all(instances.map((instance) => instance.stop()));
      await pool.end();
      await onServer(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}

/** Calls Better Auth's own request handler, as the Next.js route would. */
export async function authRequest(auth, path, { body, cookie, baseURL = 'http://localhost:3000' } = {}) {
  const headers = { 'content-type': 'application/json', origin: baseURL };
  if (cookie) headers.cookie = cookie;
  const response = await auth.handler(
    new Request(`${baseURL}/api/auth${path}`, { method: 'POST', headers, body: JSON.stringify(body ?? {}) }),
  );
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response;
}

/** The `name=value` pairs of a response's Set-Cookie headers, as a Cookie header. */
export function cookieHeader(response, only) {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .filter((pair) => !only || pair.startsWith(`${only}=`))
    .join('; ');
}

/** Signs a new user up through Better Auth; answers the cookie and tokens it gave. */
export async function signUp(auth, { baseURL, name = 'Ada' } = {}) {
  const email = `${name.toLowerCase()}-${randomBytes(4).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const response = await authRequest(auth, '/sign-up/email', { body: { email, password, name }, baseURL });
  const json = await response.json();
  return {
    email,
    password,
    userId: json.user.id,
    cookie: cookieHeader(response),
    setAuthToken: response.headers.get('set-auth-token'),
    token: json.token,
  };
}

/** POSTs a GraphQL operation with extra headers; answers the parsed body. */
export async function graphql(service, query, { headers = {}, variables } = {}) {
  const response = await fetch(service.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

/**
 * Registers node:test hooks for a suite: a service started before its tests and
 * stopped after, and a user signed up through Better Auth. Read them from the
 * returned object inside the tests.
 */
export function serviceWithUser({ before, after }) {
  const suite = {};
  before(async () => {
    suite.service = await startService();
    suite.user = await signUp(suite.service.auth);
  });
  after(async () => {
    await suite.service?.stop();
  });
  return suite;
}
