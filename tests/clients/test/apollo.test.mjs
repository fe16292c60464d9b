// Apollo Client 4, as the frontend uses it: queries, every mutation, the
// normalised cache, error codes, automatic persisted queries and batching.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

import { serviceWithUser } from '../lib/harness.mjs';

const TASK = gql`
  fragment TaskFields on Task {
    id
    title
    description
    completed
    updatedAt
  }
`;
const LIST = gql`
  query Tasks {
    tasks(first: 50) {
      nodes {
        ...TaskFields
      }
      totalCount
    }
  }
  ${TASK}
`;
const CREATE = gql`
  mutation Create($input: CreateTaskInput!) {
    createTask(input: $input) {
      ...TaskFields
    }
  }
  ${TASK}
`;

/** fetch, recording each request's method and parsed body. */
function recordingFetch(log) {
  return async (input, init = {}) => {
    log.push({ method: init.method ?? 'GET', body: init.body ? JSON.parse(init.body) : undefined });
    return fetch(input, init);
  };
}

function makeClient(service, cookie, link) {
  return new ApolloClient({
    link: link ?? new HttpLink({ uri: service.graphqlUrl, headers: { cookie } }),
    cache: new InMemoryCache(),
  });
}

describe('Apollo Client', () => {
  const suite = serviceWithUser({ before, after });

  test('a query and every mutation', async () => {
    const client = makeClient(suite.service, suite.user.cookie);
    const created = await client.mutate({ mutation: CREATE, variables: { input: { title: '  Apollo  ' } } });
    const task = created.data.createTask;
    assert.equal(task.title, 'Apollo');
    assert.equal(task.__typename, 'Task');

    const updated = await client.mutate({
      mutation: gql`
        mutation Update($id: ID!) {
          updateTask(id: $id, input: { description: "via Apollo" }) {
            id
            description
          }
        }
      `,
      variables: { id: task.id },
    });
    assert.equal(updated.data.updateTask.description, 'via Apollo');

    const toggled = await client.mutate({
      mutation: gql`
        mutation Toggle($id: ID!) {
          toggleTask(id: $id) {
            id
            completed
          }
        }
      `,
      variables: { id: task.id },
    });
    assert.equal(toggled.data.toggleTask.completed, true);

    const list = await client.query({ query: LIST, fetchPolicy: 'network-only' });
    assert.deepEqual(
      list.data.tasks.nodes.map((t) => [t.title, t.completed]),
      [['Apollo', true]],
    );

    const cleared = await client.mutate({ mutation: gql`mutation Clear { clearCompletedTasks }` });
    assert.equal(cleared.data.clearCompletedTasks, 1);

    const another = await client.mutate({ mutation: CREATE, variables: { input: { title: 'to delete' } } });
    const deleted = await client.mutate({
      mutation: gql`
        mutation Delete($id: ID!) {
          deleteTask(id: $id)
        }
      `,
      variables: { id: another.data.createTask.id },
    });
    assert.equal(deleted.data.deleteTask, another.data.createTask.id);
  });

  test('the cache normalises Task by id: a mutation updates a cached list without a refetch', async () => {
    const log = [];
    const client = makeClient(
      suite.service,
      suite.user.cookie,
      new HttpLink({ uri: suite.service.graphqlUrl, headers: { cookie: suite.user.cookie }, fetch: recordingFetch(log) }),
    );
    const created = await client.mutate({ mutation: CREATE, variables: { input: { title: 'cached' } } });
    const id = created.data.createTask.id;
    const list = await client.query({ query: LIST });
    assert.equal(list.data.tasks.nodes.find((t) => t.id === id).completed, false);
    const requests = log.length;

    await client.mutate({
      mutation: gql`
        mutation Rename($id: ID!) {
          updateTask(id: $id, input: { title: "renamed", completed: true }) {
            id
            title
            completed
          }
        }
      `,
      variables: { id },
    });
    const cached = client.readQuery({ query: LIST });
    const task = cached.tasks.nodes.find((t) => t.id === id);
    assert.deepEqual([task.title, task.completed], ['renamed', true]);
    assert.equal(log.length, requests + 1, 'only the mutation went over the wire');
  });

  test('errors reach the client with their extensions.code', async () => {
    const client = makeClient(suite.service, suite.user.cookie);
    await assert.rejects(
      client.mutate({ mutation: CREATE, variables: { input: { title: '   ' } } }),
      (error) => {
        assert.ok(CombinedGraphQLErrors.is(error), `${error}`);
        assert.equal(error.errors[0].extensions.code, 'BAD_USER_INPUT');
        assert.equal(error.errors[0].extensions.field, 'title');
        return true;
      },
    );
    const anonymous = makeClient(suite.service, '');
    await assert.rejects(anonymous.query({ query: LIST }), (error) => {
      assert.ok(CombinedGraphQLErrors.is(error));
      assert.equal(error.errors[0].extensions.code, 'UNAUTHENTICATED');
      return true;
    });
    await assert.rejects(
      client.mutate({
        mutation: gql`
          mutation Missing {
            toggleTask(id: "00000000-0000-7000-8000-000000000000") {
              id
            }
          }
        `,
      }),
      (error) => error.errors?.[0]?.extensions?.code === 'NOT_FOUND',
    );
  });

  test('persisted queries: hash first, the document once on a miss, then the hash alone', async () => {
    const log = [];
    const sha256 = (query) => createHash('sha256').update(query).digest('hex');
    const link = new PersistedQueryLink({ sha256 }).concat(
      new HttpLink({ uri: suite.service.graphqlUrl, headers: { cookie: suite.user.cookie }, fetch: recordingFetch(log) }),
    );
    const client = makeClient(suite.service, suite.user.cookie, link);
    const STATS = gql`
      query PersistedStats {
        taskStats {
          total
        }
      }
    `;
    const first = await client.query({ query: STATS, fetchPolicy: 'network-only' });
    assert.equal(typeof first.data.taskStats.total, 'number');
    assert.equal(log.length, 2, 'a miss, then the retry with the document');
    assert.equal(log[0].body.query, undefined);
    assert.ok(log[0].body.extensions.persistedQuery.sha256Hash);
    assert.ok(log[1].body.query.includes('PersistedStats'));

    const second = await client.query({ query: STATS, fetchPolicy: 'network-only' });
    assert.deepEqual(second.data, first.data);
    assert.equal(log.length, 3);
    assert.equal(log[2].body.query, undefined, 'the hash alone succeeds now');
  });

  test('BatchHttpLink works up to the batch limit', async () => {
    const log = [];
    const link = new BatchHttpLink({
      uri: suite.service.graphqlUrl,
      headers: { cookie: suite.user.cookie },
      batchMax: 10,
      batchInterval: 20,
      fetch: recordingFetch(log),
    });
    const client = makeClient(suite.service, suite.user.cookie, link);
    const queries = Array.from({ length: 11 }, (_, n) =>
      client.query({
        query: gql`
          query Batched($first: Int) {
            tasks(first: $first) {
              totalCount
            }
          }
        `,
        variables: { first: n + 1 },
        fetchPolicy: 'network-only',
      }),
    );
    const results = await Promise.all(queries);
    assert.equal(results.length, 11);
    for (const result of results) assert.equal(typeof result.data.tasks.totalCount, 'number');
    assert.deepEqual(
      log.map((r) => r.body.length),
      [10, 1],
      'ten operations in one request, the eleventh in the next',
    );
  });
});
