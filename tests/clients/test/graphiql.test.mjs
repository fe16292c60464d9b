// GraphiQL in a real browser: Debian's Chromium driven by playwright-core opens
// /graphql with the session cookie, runs `{ me { email } }` through the page, and
// reads the answer from it, with nothing loaded from anywhere but the service and
// no Content-Security-Policy violation.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { signUp, startService } from '../lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

describe('GraphiQL in Chromium', () => {
  let service;
  let browser;
  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    }
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
