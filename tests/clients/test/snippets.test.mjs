// The README's set-up snippets for frontend teams, run as pasted: they live in
// snippets/ and the README's blocks are these files (tests/api/readme.rs compares
// them). Apollo Client and urql with the session cookie forwarded as a server
// does, a Next.js route handler, paging by endCursor, and codegen.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { gql } from '@apollo/client';

import { graphql, serviceWithUser } from '../lib/harness.mjs';

// The route handler imports `@/lib/apollo-client`, as in a Next.js app.
register('../lib/next-alias.mjs', import.meta.url);

const here = dirname(fileURLToPath(import.meta.url));
const clients = join(here, '..');
const repo = join(clients, '..', '..');

const ME = gql`
  query Me {
    me {
      email
    }
  }
`;

describe("the README's snippets", () => {
  const suite = serviceWithUser({ before, after });
  let createApolloClient;
  let createUrqlClient;
  let allTasks;
  let GET;
  before(async () => {
    // The snippets read the endpoint when loaded, as a Next.js app does at build time.
    process.env.NEXT_PUBLIC_GRAPHQL_URL = suite.service.graphqlUrl;
    ({ createApolloClient } = await import('../snippets/apollo-client.mjs'));
    ({ createUrqlClient } = await import('../snippets/urql-client.mjs'));
    ({ allTasks } = await import('../snippets/paging.mjs'));
    ({ GET } = await import('../snippets/route-handler.mjs'));
  });
  const create = (title) =>
    graphql(suite.service, 'mutation ($title: String!) { createTask(input: { title: $title }) { id } }', {
      headers: { cookie: suite.user.cookie },
      variables: { title },
    });

  test('Apollo Client: signed in by the forwarded cookie, signed out without it', async () => {
    const signedIn = createApolloClient({ cookie: suite.user.cookie });
    assert.equal((await signedIn.query({ query: ME })).data.me.email, suite.user.email);
    const created = await signedIn.mutate({
      mutation: gql`
        mutation Create {
          createTask(input: { title: "from the Apollo snippet" }) {
            id
            title
          }
        }
      `,
    });
    assert.equal(created.data.createTask.title, 'from the Apollo snippet');
    // Outside a browser nothing sends a cookie by itself: no session.
    const anonymous = createApolloClient();
    assert.equal((await anonymous.query({ query: ME })).data.me, null);
  });

  test('urql: queries go as POST and pass the CSRF rule; the cookie signs them in', async () => {
    const urql = createUrqlClient({ cookie: suite.user.cookie });
    const result = await urql.query(ME, {}).toPromise();
    assert.equal(result.error, undefined, `${result.error}`);
    assert.equal(result.data.me.email, suite.user.email);
    const stats = await urql.query(gql`{ taskStats { total } }`, {}).toPromise();
    assert.equal(stats.error, undefined, `${stats.error}`);
    assert.equal(typeof stats.data.taskStats.total, 'number');
  });

  test("the Next.js route handler forwards the browser's cookie", async () => {
    await create('open, via the route handler');
    const url = 'http://localhost:3000/api/tasks';
    const response = await GET(new Request(url, { headers: { cookie: suite.user.cookie } }));
    assert.equal(response.status, 200);
    const titles = (await response.json()).map((task) => task.title);
    assert.ok(titles.includes('open, via the route handler'), `${titles}`);
    assert.equal((await GET(new Request(url))).status, 401, 'no cookie: the service answers UNAUTHENTICATED');
  });

  test('paging with after: endCursor visits every task once', async () => {
    const before = await allTasks(createApolloClient({ cookie: suite.user.cookie }));
    // Written straight into the table: 120 mutations would trip the rate limit.
    await suite.service.pool.query(
      `INSERT INTO tasks (id, title, completed, user_id, created_at, updated_at)
       SELECT gen_random_uuid(), 'page ' || i, false, $1, now() - i * interval '1 ms', now()
       FROM generate_series(1, 120) AS i`,
      [suite.user.userId],
    );
    const client = createApolloClient({ cookie: suite.user.cookie });
    const tasks = await allTasks(client);
    assert.equal(tasks.length, before.length + 120, 'first: 50 takes three pages here');
    assert.equal(new Set(tasks.map((task) => task.id)).size, tasks.length, 'no task twice');
  });

  test('codegen.ts generates typed documents from schema.graphql that compile', () => {
    const work = mkdtempSync(join(tmpdir(), 'codegen-snippet-'));
    copyFileSync(join(clients, 'snippets', 'codegen.ts'), join(work, 'codegen.ts'));
    copyFileSync(join(repo, 'schema.graphql'), join(work, 'schema.graphql'));
    mkdirSync(join(work, 'src'));
    copyFileSync(join(clients, 'fixtures', 'operations.graphql'), join(work, 'src', 'operations.graphql'));
    const bin = join(clients, 'node_modules', '@graphql-codegen', 'cli', 'esm', 'bin.js');
    try {
      execFileSync(process.execPath, [bin, '--config', 'codegen.ts'], {
        cwd: work,
        stdio: 'pipe',
        // The app's own node_modules would hold the plugins; the work folder is in
        // /tmp, so they are looked up in this suite's.
        env: { ...process.env, NODE_PATH: join(clients, 'node_modules') },
      });
    } catch (error) {
      assert.fail(`graphql-codegen failed:\n${error.stdout}${error.stderr}`);
    }
    const generated = readFileSync(join(work, 'src', 'gql', 'graphql.ts'), 'utf8');
    assert.match(generated, /createdAt: string/, 'DateTime is typed as the string it is sent as');
    const typed = readFileSync(join(clients, 'fixtures', 'typed.ts'), 'utf8').replaceAll("'./generated'", "'./gql/graphql'");
    writeFileSync(join(work, 'src', 'typed.ts'), `${typed}\nexport const when = (data: TasksQuery): string => data.tasks.nodes[0].createdAt;\n`);
    const modules = join(clients, 'node_modules');
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...JSON.parse(readFileSync(join(clients, 'fixtures', 'tsconfig.json'), 'utf8')).compilerOptions,
          typeRoots: [],
          baseUrl: '.',
          paths: { '@graphql-typed-document-node/core': [join(modules, '@graphql-typed-document-node/core')] },
        },
        files: ['src/typed.ts'],
      }),
    );
    try {
      execFileSync(process.execPath, [join(modules, 'typescript', 'bin', 'tsc'), '-p', join(work, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (error) {
      assert.fail(`tsc --noEmit failed:\n${error.stdout}${error.stderr}`);
    }
  });
});
