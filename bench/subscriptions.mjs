#!/usr/bin/env node
// Subscriptions under load, measured (a benchmark, not a test): two instances of the
// service on one PostgreSQL database, SUBSCRIBERS WebSockets (graphql-ws, the real
// client) spread over both and over USERS users, half signed in by the session cookie
// on the upgrade and half by connection_init's bearer. Each round every user makes one
// mutation through instance A over HTTP; every subscriber of that user, on A or on B,
// gets its event. Prints:
//   - the delay from each mutation's HTTP answer to each subscriber's event, p50/p99,
//     for subscribers on A (same instance) and on B (through NOTIFY/LISTEN);
//   - the same mutations' HTTP round trip with no subscriber, then with all of them;
//   - resident memory per idle subscription on each instance.
//
//     npm ci --prefix tests/clients
//     cargo build --release --bin todo-graphql
//     TODO_GRAPHQL_BIN=target/release/todo-graphql node bench/subscriptions.mjs
//
// Needs PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
// Rate limits are off here (RATE_LIMIT_*=0): this measures the fan-out, not the limiter,
// and every subscriber and mutation comes from one loopback address. Every wait is bounded.
import { readFileSync } from 'node:fs';

import { signUp, startService } from '../tests/clients/lib/harness.mjs';
import { createTask, wsClient } from '../tests/clients/lib/subscriptions.mjs';

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const USERS = Number(process.env.USERS ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 8);
const PER_USER = Math.ceil(SUBSCRIBERS / USERS);

const SETTINGS = {
  RATE_LIMIT_IP_PER_SEC: '0',
  RATE_LIMIT_USER_PER_SEC: '0',
  MAX_CONNECTIONS: String(SUBSCRIBERS + 256),
  WS_MAX_CONNECTIONS_PER_USER: String(PER_USER),
};

const SUBSCRIPTION = 'subscription { taskChanged { kind id task { id title completed } } }';

function rssKiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

function percentile(values, p) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const ms = (v) => `${v.toFixed(2)} ms`;

/** Runs `jobs` (functions answering promises) with at most `limit` at once. */
async function pool(jobs, limit) {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** Until `check()` holds, at most `limitMs`. */
async function until(check, limitMs, what) {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One round: every user creates a task through A. Answers [{ user, id, answeredAt, roundTrip }]. */
async function round(a, users, label) {
  return pool(
    users.map((user, u) => async () => {
      const sent = performance.now();
      const task = await createTask(a, user.cookie, `${label} ${u}`);
      const answeredAt = performance.now();
      return { user: u, id: task.id, answeredAt, roundTrip: answeredAt - sent };
    }),
    IN_FLIGHT,
  );
}

async function main() {
  console.log(`${SUBSCRIBERS} subscribers, ${USERS} users, ${ROUNDS} rounds, ${IN_FLIGHT} mutations in flight`);
  const a = await startService({ env: SETTINGS });
  const b = await a.another();
  const clients = [];
  try {
    const users = [];
    for (let u = 0; u < USERS; u++) users.push(await signUp(a.auth, { name: `U${u}` }));

    // HTTP alone: the same mutations with nobody subscribed (after a warm-up round).
    await round(a, users, 'warm-up');
    const idle = { a: rssKiB(a.pid), b: rssKiB(b.pid) };
    const httpAlone = [];
    for (let r = 0; r < ROUNDS; r++) httpAlone.push(...(await round(a, users, `http ${r}`)).map((m) => m.roundTrip));

    // The subscribers: subscriber i belongs to user i % USERS, lives on A or B in
    // turn, and signs in by cookie or by bearer in turn.
    const subscribers = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const user = users[i % USERS];
      const instance = Math.floor(i / USERS) % 2 === 0 ? a : b;
      const auth = Math.floor(i / (2 * USERS)) % 2 === 0 ? { cookie: user.cookie } : { token: user.setAuthToken };
      const client = wsClient(instance, { ...auth, lazy: false });
      clients.push(client);
      const subscriber = { user: i % USERS, on: instance === a ? 'A' : 'B', events: new Map(), ended: null };
      client.subscribe(
        { query: SUBSCRIPTION },
        {
          next: (value) => {
            const change = value.data?.taskChanged;
            if (change) subscriber.events.set(change.id, performance.now());
          },
          error: (error) => (subscriber.ended = error),
          complete: () => (subscriber.ended = 'completed'),
        },
      );
      subscribers.push(subscriber);
    }
    // Live end to end: each user's probe reaches all of its subscribers (the LISTEN
    // connections open on the first subscriber).
    for (let attempt = 0; ; attempt++) {
      const waiting = new Set(subscribers.filter((s) => s.events.size === 0).map((s) => s.user));
      if (waiting.size === 0) break;
      if (attempt === 20) throw new Error(`${waiting.size} users' subscribers never heard a probe`);
      await round(a, [...waiting].map((u) => users[u]), 'probe');
      await until(() => subscribers.every((s) => s.events.size > 0 || s.ended), 1_000, 'probe events').catch(() => {});
    }
    const ended = subscribers.filter((s) => s.ended);
    if (ended.length) throw new Error(`${ended.length} subscriptions ended: ${String(ended[0].ended?.code ?? ended[0].ended)}`);
    await new Promise((r) => setTimeout(r, 1_000)); // let allocations settle before reading memory
    const subscribed = { a: rssKiB(a.pid), b: rssKiB(b.pid) };
    for (const s of subscribers) s.events.clear();

    // Mutations with everyone subscribed.
    const mutations = [];
    for (let r = 0; r < ROUNDS; r++) mutations.push(...(await round(a, users, `live ${r}`)));
    const expected = mutations.reduce((n, m) => n + subscribers.filter((s) => s.user === m.user).length, 0);
    const received = () => subscribers.reduce((n, s) => n + s.events.size, 0);
    await until(() => received() >= expected, 30_000, `${expected} events`).catch((error) => {
      const ended = subscribers.filter((s) => s.ended);
      const codes = {};
      for (const s of ended) codes[s.ended?.code ?? String(s.ended)] = (codes[s.ended?.code ?? String(s.ended)] ?? 0) + 1;
      throw new Error(`${error.message}: ${received()} arrived; ${ended.length} subscriptions ended (${JSON.stringify(codes)})`);
    });

    const delays = { A: [], B: [] };
    for (const m of mutations) {
      for (const s of subscribers) {
        if (s.user !== m.user) continue;
        const at = s.events.get(m.id);
        if (at === undefined) throw new Error(`a subscriber on ${s.on} missed an event`);
        delays[s.on].push(at - m.answeredAt);
      }
    }
    const all = [...delays.A, ...delays.B];
    const countOn = (x) => subscribers.filter((s) => s.on === x).length;
    const rows = [
      ['answer → event, all', all],
      ['answer → event, on A (same instance)', delays.A],
      ['answer → event, on B (via NOTIFY)', delays.B],
      ['HTTP mutation round trip, nobody subscribed', httpAlone],
      ['HTTP mutation round trip, all subscribed', mutations.map((m) => m.roundTrip)],
    ];
    console.log('');
    for (const [label, values] of rows) {
      console.log(`${label.padEnd(46)} n=${String(values.length).padStart(6)}  p50 ${ms(percentile(values, 50)).padStart(10)}  p99 ${ms(percentile(values, 99)).padStart(10)}`);
    }
    for (const [x, key] of [['A', 'a'], ['B', 'b']]) {
      const per = ((subscribed[key] - idle[key]) * 1024) / countOn(x);
      console.log(
        `instance ${x}: RSS ${idle[key]} KiB idle → ${subscribed[key]} KiB with ${countOn(x)} idle subscriptions = ${(per / 1024).toFixed(1)} KiB per subscription`,
      );
    }
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await a.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
