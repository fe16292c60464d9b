// GraphiQL in a real browser: Debian's Chromium driven by playwright-core opens
// /graphql with the session cookie, runs `{ me { email } }` through the page, and
// reads the answer from it, with nothing loaded from anywhere but the service and
// no Content-Security-Policy violation; then runs `subscription { taskChanged … }`
// over the page's WebSocket and shows the event of a mutation made elsewhere.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { graphql, signUp, startService } from '../lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

describe('GraphiQL in Chromium', () => {
  let service;
  let browser;
  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    }
    // GraphiQL's WebSocket comes from the service's own origin, which is let through
    // without being listed in CORS_ORIGINS.
    service = await startService();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await service?.stop();
  });

  test('runs { me { email } } with the session cookie and shows the answer', async () => {
    const user = await signUp(service.auth);
    const [name, value] = user.cookie.split(/=(.*)/s);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name, value, url: service.url, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    const foreign = [];
    const problems = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(service.url) && !request.url().startsWith('data:')) foreign.push(request.url());
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });

    const response = await page.goto(`${service.url}/graphql`);
    assert.ok(response.headers()['content-security-policy'].includes("default-src 'none'"));
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 });
    await page.evaluate(() => {
      document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ me { email } }');
    });
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('email'),
      null,
      { timeout: 30_000 },
    );
    const answer = await page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue());
    assert.deepEqual(JSON.parse(answer), { data: { me: { email: user.email } } });

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'graphiql.png') });
    assert.deepEqual(foreign, [], 'everything comes from the service');
    assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused to/i.test(p)), [], 'no CSP violation');
    assert.deepEqual(problems, []);
    await context.close();
  });
  test('runs a taskChanged subscription and shows the event of a mutation', async () => {
    const user = await signUp(service.auth);
    const [name, value] = user.cookie.split(/=(.*)/s);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name, value, url: service.url, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    const problems = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    const sockets = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));

    await page.goto(`${service.url}/graphql`);
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 });
    await page.evaluate(() => {
      document
        .querySelector('.graphiql-query-editor .CodeMirror')
        .CodeMirror.setValue('subscription Live {\n  taskChanged {\n    kind\n    id\n    task { title completed }\n  }\n}');
    });
    // GraphiQL parses the editor after a 100 ms debounce; it picks the WebSocket only
    // once it knows the operation is a subscription.
    await page.waitForFunction(
      () => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.operationName === 'Live',
      null,
      { timeout: 10_000 },
    );
    await page.click('.graphiql-execute-button');

    const shown = () => page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '');
    const create = async (title) => {
      const body = await graphql(service, 'mutation ($t: String!) { createTask(input: { title: $t }) { id } }', {
        headers: { cookie: user.cookie },
        variables: { t: title },
      });
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      return body.data.createTask.id;
    };
    // The subscription is live once a probe's event shows (bounded: 50 probes).
    let live = false;
    for (let attempt = 0; attempt < 50 && !live; attempt++) {
      await create(`probe ${attempt}`);
      live = await page
        .waitForFunction(
          () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('probe'),
          null,
          { timeout: 300 },
        )
        .then(() => true, () => false);
    }
    assert.ok(live, `no event ever showed: ${await shown()} ${problems.join('; ')}`);

    const id = await create('seen in GraphiQL');
    await page.waitForFunction(
      () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('seen in GraphiQL'),
      null,
      { timeout: 10_000 },
    );
    assert.deepEqual(JSON.parse(await shown()), {
      data: { taskChanged: { kind: 'CREATED', id, task: { title: 'seen in GraphiQL', completed: false } } },
    });
    assert.deepEqual(sockets, [`${service.url.replace('http:', 'ws:')}/graphql`], 'one WebSocket, to the service');

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'graphiql-subscription.png') });
    assert.deepEqual(problems, [], 'no CSP violation or script error');
    await context.close();
  });
});

test('the GraphiQL the service embeds is the pinned npm packages, byte for byte', async () => {
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const { vendored } = await import('../scripts/vendor-graphiql.mjs');
  const require = createRequire(import.meta.url);
  const assets = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'assets', 'graphiql');
  for (const [pkg, from, to] of vendored) {
    const installed = readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), from));
    assert.ok(readFileSync(join(assets, to)).equals(installed), `${to} differs from ${pkg}: npm run vendor-graphiql`);
  }
});
