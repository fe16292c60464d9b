// Retakes docs/graphiql.png: the service in embedded mode (no environment, a fresh
// folder), GraphiQL in Debian's headless Chromium answering the example query it
// opens with, as the demo user.
//   cargo build && npm run screenshot --prefix tests/clients
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { binaryPath } from '../lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const output = join(here, '..', '..', '..', 'docs', 'graphiql.png');
const dir = mkdtempSync(join(tmpdir(), 'todo-graphql-screenshot-'));
const port = 18000 + Math.floor(Math.random() * 2000);
const service = spawn(binaryPath(), [], {
  cwd: dir,
  // Pretty logs: the banner, with the demo token, goes to stdout only then.
  env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', LOG_FORMAT: 'pretty' },
  stdio: ['ignore', 'pipe', 'ignore'],
});
try {
  let banner = '';
  for await (const chunk of service.stdout) {
    banner += chunk;
    if (banner.includes('cargo run')) break;
  }
  const token = /Bearer ([A-Za-z0-9]+)/.exec(banner)[1];
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  for (const title of ['Buy oat milk', 'Book the dentist', 'Water the plants']) {
    const query = `mutation { createTask(input: { title: "${title}" }) { id } }`;
    await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`http://127.0.0.1:${port}/graphql`);
  await page.waitForSelector('.graphiql-execute-button');
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() =>
    document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('totalCount'),
  );
  // The token belongs to a database deleted below, but a token never goes in the repo.
  await page.evaluate(() => {
    const editor = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]
      .map((element) => element.CodeMirror)
      .find((cm) => cm.getValue().includes('Bearer'));
    editor?.setValue('{"Authorization":"Bearer <the demo token from the banner>"}');
  });
  await page.screenshot({ path: output });
  await browser.close();
  console.log(`wrote ${output}`);
} finally {
  service.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
