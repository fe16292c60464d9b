// taskChanged as the frontends set it up (the README's snippets): Apollo Client 4
// with GraphQLWsLink split from HttpLink, and urql with subscriptionExchange over
// graphql-ws. Queries and mutations go over HTTP to instance A, the subscription
// over WebSocket to instance B of the same database; the events must match what
// the mutations answered, and come within 2 s.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';

import { signUp, startService } from '../lib/harness.mjs';
import { Queue, TASK_CHANGED, ready, wsClient } from '../lib/subscriptions.mjs';

const CREATE = 'mutation Create($title: String!) { createTask(input: { title: $title }) { id title completed } }';
const TOGGLE = 'mutation Toggle($id: ID!) { toggleTask(id: $id) { id title completed } }';
const DELETE = 'mutation Delete($id: ID!) { deleteTask(id: $id) }';

describe('Apollo Client and urql subscriptions across two instances', () => {
  let a;
  let b;
  let user;
  before(async () => {
    a = await startService();
    b = await a.another();
    user = await signUp(a.auth);
  });
  after(async () => {
    await a?.stop();
  });

  /**
   * Create, toggle, delete through `mutate`; each event read from `queue`. Apollo
   * adds `__typename` to every selection (`typed`), urql without its cache does not.
   */
  async function threeKinds(queue, mutate, typed) {
    const change = (kind, id, task) => ({ ...(typed ? { __typename: 'TaskChange' } : {}), kind, id, task });
    const created = (await mutate(CREATE, { title: 'live' })).createTask;
    assert.deepEqual((await queue.next()).data.taskChanged, change('CREATED', created.id, created));
    const toggled = (await mutate(TOGGLE, { id: created.id })).toggleTask;
    assert.equal(toggled.completed, true);
    assert.deepEqual((await queue.next()).data.taskChanged, change('UPDATED', created.id, toggled));
    await mutate(DELETE, { id: created.id });
    assert.deepEqual((await queue.next()).data.taskChanged, change('DELETED', created.id, null));
  }

  test("Apollo Client's GraphQLWsLink, signed in by connection_init bearer", async () => {
    const ws = wsClient(b, { token: user.setAuthToken });
    const link = ApolloLink.split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
      },
      new GraphQLWsLink(ws),
      new HttpLink({ uri: a.graphqlUrl, headers: { authorization: `Bearer ${user.setAuthToken}` } }),
    );
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const queue = new Queue();
    const subscription = client.subscribe({ query: gql(TASK_CHANGED) }).subscribe({
      next: (result) => (result.error ? queue.end(result.error) : queue.push(result)),
      error: (error) => queue.end(error),
      complete: () => queue.end(),
    });
    try {
      await ready(queue, a, user.cookie);
      const mutate = async (mutation, variables) => (await client.mutate({ mutation: gql(mutation), variables })).data;
      await threeKinds(queue, mutate, true);
    } finally {
      subscription.unsubscribe();
      client.stop();
      await ws.dispose();
    }
  });

  test("urql's subscriptionExchange over graphql-ws, signed in by the session cookie", async () => {
    const ws = wsClient(b, { cookie: user.cookie });
    const client = new Client({
      url: a.graphqlUrl,
      fetchOptions: { headers: { cookie: user.cookie } },
      exchanges: [
        fetchExchange,
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query || '' };
            return {
              subscribe(sink) {
                return { unsubscribe: ws.subscribe(input, sink) };
              },
            };
          },
        }),
      ],
    });
    const queue = new Queue();
    const subscription = client.subscription(TASK_CHANGED, {}).subscribe((result) => {
      if (result.error) queue.end(result.error);
      else queue.push(result);
    });
    try {
      await ready(queue, a, user.cookie);
      const mutate = async (mutation, variables) => {
        const result = await client.mutation(mutation, variables).toPromise();
        if (result.error) throw result.error;
        return result.data;
      };
      await threeKinds(queue, mutate, false);
    } finally {
      subscription.unsubscribe();
      await ws.dispose();
    }
  });
});
