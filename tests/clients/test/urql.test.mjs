// urql (@urql/core) with the session cookie: a query, a mutation, and errors as a
// CombinedError carrying the code.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, CombinedError, fetchExchange, gql } from '@urql/core';

import { serviceWithUser } from '../lib/harness.mjs';

describe('urql', () => {
  const suite = serviceWithUser({ before, after });

  // urql sends queries as GET by default ('within-url-limit'); a GET without a
  // preflight header is exactly what the CSRF rule refuses, as Apollo Server does.
  const client = (cookie, options = { preferGetMethod: false }) =>
    new Client({ url: suite.service.graphqlUrl, exchanges: [fetchExchange], fetchOptions: { headers: { cookie } }, ...options });

  test('a query and a mutation with the cookie', async () => {
    const urql = client(suite.user.cookie);
    const created = await urql
      .mutation(
        gql`
          mutation ($title: String!) {
            createTask(input: { title: $title }) {
              id
              title
            }
          }
        `,
        { title: 'from urql' },
      )
      .toPromise();
    assert.equal(created.error, undefined, `${created.error}`);
    assert.equal(created.data.createTask.title, 'from urql');

    const listed = await urql
      .query(
        gql`
          {
            me {
              email
            }
            tasks {
              nodes {
                id
                title
              }
            }
          }
        `,
        {},
      )
      .toPromise();
    assert.equal(listed.error, undefined, `${listed.error}`);
    assert.equal(listed.data.me.email, suite.user.email);
    assert.deepEqual(
      listed.data.tasks.nodes.map((t) => t.title),
      ['from urql'],
    );
  });

  test('GET queries work when they carry the preflight header', async () => {
    const urql = client(suite.user.cookie, { fetchOptions: { headers: { cookie: suite.user.cookie, 'apollo-require-preflight': 'true' } } });
    const result = await urql.query(gql`{ taskStats { total } }`, {}).toPromise();
    assert.equal(result.error, undefined, `${result.error}`);
    assert.equal(typeof result.data.taskStats.total, 'number');
    const refused = await client(suite.user.cookie, {}).query(gql`{ taskStats { total } }`, {}).toPromise();
    assert.equal(refused.error?.response?.status, 400, 'a bare GET is refused by the CSRF rule');
  });

  test('an error surfaces as a CombinedError with the code', async () => {
    const result = await client('')
      .query(
        gql`
          {
            taskStats {
              total
            }
          }
        `,
        {},
      )
      .toPromise();
    assert.ok(result.error instanceof CombinedError);
    assert.equal(result.error.graphQLErrors[0].extensions.code, 'UNAUTHENTICATED');

    const bad = await client(suite.user.cookie)
      .mutation(gql`mutation { toggleTask(id: "not-a-uuid") { id } }`, {})
      .toPromise();
    assert.ok(bad.error instanceof CombinedError);
    assert.equal(bad.error.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT');
    assert.equal(bad.error.graphQLErrors[0].extensions.field, 'id');
  });
});
