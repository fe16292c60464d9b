// What the subscription checks share: the real `graphql-ws` client over the real
// `ws` WebSocket (sending a cookie and an Origin on the upgrade, as a browser does),
// a queue of received events with a bounded wait, and `ready()`, which proves a
// subscription is live end to end before a check relies on it.
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

import { graphql } from './harness.mjs';

export const TASK_CHANGED = /* GraphQL */ `
  subscription TaskChanged {
    taskChanged {
      kind
      id
      task {
        id
        title
        completed
      }
    }
  }
`;

/** A WebSocket class for graphql-ws that sends `headers` on the upgrade request. */
export function webSocketWith(headers) {
  return class extends WebSocket {
    constructor(address, protocols) {
      super(address, protocols, { headers });
    }
  };
}

/**
 * A graphql-ws client for one instance: by `cookie` on the upgrade, or by `token`
 * as `connection_init`'s `{"authorization": "Bearer …"}`. It never retries, so a
 * refusal reaches the check as it is.
 */
export function wsClient(instance, { cookie, token, origin, ...options } = {}) {
  const headers = {};
  if (cookie) headers.cookie = cookie;
  if (origin) headers.origin = origin;
  return createClient({
    url: instance.wsUrl,
    webSocketImpl: webSocketWith(headers),
    connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
    retryAttempts: 0,
    ...options,
  });
}

/** Received values, in order; `next()` waits for one, at most `ms`. */
export class Queue {
  #items = [];
  #waiters = [];
  #ended = null;

  push(item) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  /** The stream ended (`error` is the reason, or null when it completed). */
  end(error = null) {
    this.#ended = { error };
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#endError());
  }

  get ended() {
    return this.#ended;
  }

  #endError() {
    const { error } = this.#ended;
    return new Error(`the subscription ended: ${error ? describe(error) : 'completed'}`);
  }

  /** The next value; rejects when none arrives within `ms` or the stream ended. */
  next(ms = 2_000, what = 'an event') {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    if (this.#ended) return Promise.reject(this.#endError());
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no ${what} within ${ms} ms`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** The next value if one arrives within `ms`, else undefined (never rejects for time). */
  async poll(ms) {
    try {
      return await this.next(ms);
    } catch (error) {
      if (this.#ended) throw error;
      return undefined;
    }
  }
}

/** A WebSocket close event or an error, readably. */
export function describe(error) {
  if (error && typeof error.code === 'number') return `close ${error.code} ${error.reason ?? ''}`.trim();
  if (Array.isArray(error)) return JSON.stringify(error);
  return String(error?.message ?? error);
}

/** Subscribes `client` (graphql-ws) to taskChanged; events land in the answered queue. */
export function subscribe(client, query = TASK_CHANGED) {
  const queue = new Queue();
  queue.dispose = client.subscribe(
    { query },
    {
      next: (value) => queue.push(value),
      error: (error) => queue.end(error),
      complete: () => queue.end(),
    },
  );
  return queue;
}

/** Runs a GraphQL operation over HTTP on `instance` as the user of `cookie`; answers `data`. */
export async function run(instance, cookie, query, variables) {
  const body = await graphql(instance, query, { headers: { cookie }, variables });
  if (body.errors) throw new Error(`${query.trim().split('\n')[0]}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export async function createTask(instance, cookie, title) {
  const data = await run(
    instance,
    cookie,
    'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id title completed } }',
    { input: { title } },
  );
  return data.createTask;
}

/**
 * Proves a subscription live end to end: creates probe tasks through `instance`
 * as the subscriber's user until one's event arrives (the subscriber's instance may
 * still be opening its LISTEN connection), then drains the queue up to the last
 * probe's event, so the check starts from a clean queue. Answers the probes' ids.
 * `take` reads the event out of a queue value (graphql-ws, Apollo and urql wrap it
 * differently). Bounded: at most 50 probes of 200 ms.
 */
export async function ready(queue, instance, cookie, take = (value) => value.data.taskChanged) {
  const probes = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    probes.push((await createTask(instance, cookie, `probe ${attempt}`)).id);
    const value = await queue.poll(200);
    if (value === undefined) continue;
    let event = take(value);
    const last = probes.at(-1);
    while (event.id !== last) event = take(await queue.next(2_000, 'the last probe'));
    return probes;
  }
  throw new Error(`the subscription never received an event: ${queue.ended ? describe(queue.ended.error) : 'still open'}`);
}

/** Resolves with the close event or error that ends a graphql-ws client's connection. */
export function closed(client) {
  return new Promise((resolve) => {
    client.on('closed', resolve);
    client.on('error', resolve);
  });
}
