// What the README says about cookies in the browser, in Debian's Chromium: a page
// on another origin of the same site (localhost:<port>, as Next.js's dev server on
// :3000 and the service on :8080) is signed in by `fetch` with
// credentials: 'include' when CORS_ORIGINS lists it, and signed out without it; a
// page on another site never gets its cookie through; an unlisted origin cannot
// read the answer at all.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { signUp, startService } from '../lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A page server: the frontend's origin, serving an empty page. */
async function pageServer() {
  const server = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('the session cookie across origins in Chromium', () => {
  let app;
  let unlisted;
  let service;
  let browser;
  let user;
  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    }
    app = await pageServer();
    unlisted = await pageServer();
    const port = app.address().port;
    service = await startService({ env: { CORS_ORIGINS: `http://localhost:${port},http://127.0.0.1:${port}` } });
    user = await signUp(service.auth);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => {
    await browser?.close();
    await service?.stop();
    app?.close();
    unlisted?.close();
  });

  /** Opens `pageUrl` with the user's cookie set by it (host-only, as Better Auth sets it) and fetches `me`. */
  async function meFrom(pageUrl, credentials) {
    const [name, value] = user.cookie.split(/=(.*)/s);
    const context = await browser.newContext();
    try {
      await context.addCookies([{ name, value, url: pageUrl, httpOnly: true, sameSite: 'Lax' }]);
      const page = await context.newPage();
      await page.goto(pageUrl);
      const api = `http://localhost:${new URL(service.url).port}/graphql`;
      return await page.evaluate(
        async ({ api, credentials }) => {
          try {
            const response = await fetch(api, {
              method: 'POST',
              credentials,
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ query: '{ me { email } }' }),
            });
            return (await response.json()).data.me;
          } catch (error) {
            return `refused: ${error}`;
          }
        },
        { api, credentials },
      );
    } finally {
      await context.close();
    }
  }

  test("credentials: 'include' from a listed origin of the same site signs the request in", async () => {
    const appUrl = `http://localhost:${app.address().port}/`;
    assert.deepEqual(await meFrom(appUrl, 'include'), { email: user.email });
    assert.equal(await meFrom(appUrl, 'same-origin'), null, "without 'include' the browser sends no cookie");
  });

  test("a page on another site, even a listed one, does not get its cookie to the API", async () => {
    // 127.0.0.1 and localhost are two sites; this page's cookie is 127.0.0.1's.
    const otherSite = `http://127.0.0.1:${app.address().port}/`;
    assert.equal(await meFrom(otherSite, 'include'), null);
  });

  test('an origin missing from CORS_ORIGINS cannot read the answer', async () => {
    const answer = await meFrom(`http://localhost:${unlisted.address().port}/`, 'include');
    assert.match(String(answer), /^refused: TypeError: Failed to fetch/);
  });
});
