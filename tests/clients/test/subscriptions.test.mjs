// taskChanged with the real `graphql-ws` client, against two instances of the service
// on one database (two Fly machines): a mutation through A reaches a subscriber on B,
// for each kind, within 2 s, signed in by the session cookie on the upgrade and by
// connection_init's bearer; another user hears nothing of it; a failed mutation
// announces nothing; no session, a tampered cookie and a foreign Origin are refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { signUp, startService } from '../lib/harness.mjs';
import { closed, createTask, ready, run, subscribe, wsClient } from '../lib/subscriptions.mjs';

const event = (value) => value.data.taskChanged;

describe('graphql-ws across two instances', () => {
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

  /** Every mutation through A, each event read from the subscriber on B. */
  async function everyKindReachesB(client) {
    const queue = subscribe(client);
    try {
      await ready(queue, a, user.cookie);

      const created = await createTask(a, user.cookie, 'from A');
      assert.deepEqual(event(await queue.next()), { kind: 'CREATED', id: created.id, task: created });

      const updated = await run(a, user.cookie, 'mutation ($id: ID!) { updateTask(id: $id, input: { title: "renamed" }) { id title completed } }', {
        id: created.id,
      });
      assert.deepEqual(event(await queue.next()), { kind: 'UPDATED', id: created.id, task: updated.updateTask });

      const toggled = await run(a, user.cookie, 'mutation ($id: ID!) { toggleTask(id: $id) { id title completed } }', { id: created.id });
      assert.equal(toggled.toggleTask.completed, true);
      assert.deepEqual(event(await queue.next()), { kind: 'UPDATED', id: created.id, task: toggled.toggleTask });

      const other = await createTask(a, user.cookie, 'to delete');
      assert.deepEqual(event(await queue.next()), { kind: 'CREATED', id: other.id, task: other });
      await run(a, user.cookie, 'mutation ($id: ID!) { deleteTask(id: $id) }', { id: other.id });
      assert.deepEqual(event(await queue.next()), { kind: 'DELETED', id: other.id, task: null });

      const cleared = await run(a, user.cookie, 'mutation { clearCompletedTasks }');
      assert.equal(cleared.clearCompletedTasks, 1);
      assert.deepEqual(event(await queue.next()), { kind: 'DELETED', id: created.id, task: null });
    } finally {
      queue.dispose();
      await client.dispose();
    }
  }

  test('a mutation through A reaches a subscriber on B, signed in by the session cookie', async () => {
    await everyKindReachesB(wsClient(b, { cookie: user.cookie }));
  });

  test('a mutation through A reaches a subscriber on B, signed in by connection_init bearer', async () => {
    // Both forms Better Auth's bearer() hands out: the signed one and the bare token.
    for (const token of [user.setAuthToken, user.token]) {
      await everyKindReachesB(wsClient(b, { token }));
    }
  });

  test("another user's subscriber receives nothing of this user's changes", async () => {
    const other = await signUp(a.auth, { name: 'Bob' });
    const client = wsClient(b, { cookie: other.cookie });
    const queue = subscribe(client);
    try {
      await ready(queue, a, other.cookie);
      const mine = await createTask(a, user.cookie, 'not for Bob');
      await run(a, user.cookie, 'mutation ($id: ID!) { toggleTask(id: $id) { id } }', { id: mine.id });
      await run(a, user.cookie, 'mutation ($id: ID!) { deleteTask(id: $id) }', { id: mine.id });
      // Events reach one subscriber in commit order: Bob's own change, made after
      // the three above, is the next thing he hears.
      const marker = await createTask(a, other.cookie, "Bob's");
      assert.deepEqual(event(await queue.next()), { kind: 'CREATED', id: marker.id, task: marker });
    } finally {
      queue.dispose();
      await client.dispose();
    }
  });

  test('a mutation that fails sends no event', async () => {
    const client = wsClient(b, { cookie: user.cookie });
    const queue = subscribe(client);
    try {
      await ready(queue, a, user.cookie);
      const missing = '00000000-0000-4000-8000-000000000000';
      for (const [query, variables] of [
        ['mutation ($id: ID!) { toggleTask(id: $id) { id } }', { id: missing }],
        ['mutation ($id: ID!) { deleteTask(id: $id) }', { id: missing }],
        ['mutation { createTask(input: { title: "   " }) { id } }', undefined],
      ]) {
        await assert.rejects(run(a, user.cookie, query, variables), /errors|code/i, query);
      }
      const marker = await createTask(a, user.cookie, 'after the failures');
      assert.deepEqual(event(await queue.next()), { kind: 'CREATED', id: marker.id, task: marker });
    } finally {
      queue.dispose();
      await client.dispose();
    }
  });

  test('no session and a tampered cookie: connection_init refused with 4403, no event', async () => {
    const [name, value] = user.cookie.split(/=(.*)/s);
    const tampered = `${name}=${value.slice(0, -3)}${value.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    for (const [label, options] of [
      ['no session', {}],
      ['tampered cookie', { cookie: tampered }],
      ['tampered bearer', { token: `${user.setAuthToken.slice(0, -3)}AAA` }],
    ]) {
      const client = wsClient(b, options);
      const ended = closed(client);
      const queue = subscribe(client);
      const reason = await ended;
      assert.equal(reason.code, 4403, `${label}: ${reason.code} ${reason.reason}`);
      await assert.rejects(queue.next(2_000), /ended/, label);
      await client.dispose();
    }
  });

  test('an upgrade from a foreign Origin is refused before the upgrade', async () => {
    const client = wsClient(b, { cookie: user.cookie, origin: 'https://evil.example' });
    const ended = closed(client);
    const queue = subscribe(client);
    const reason = await ended;
    // ws reports a refused upgrade as an error event ("Unexpected server response: 403").
    assert.match(String(reason?.message ?? reason), /Unexpected server response: 403/);
    await assert.rejects(queue.next(2_000), /ended/);
    await client.dispose();

    const allowed = wsClient(b, { cookie: user.cookie, origin: 'http://localhost:3000' });
    const live = subscribe(allowed);
    try {
      await ready(live, a, user.cookie);
    } finally {
      live.dispose();
      await allowed.dispose();
    }
  });
});
