// Drives GraphiQL in Debian's headless Chromium as a person would, on a machine "without
// internet": every request to a host other than loopback is aborted and counted, and a dead
// proxy catches anything the routes could miss. Once GraphiQL has loaded it prints
// {"event": "loaded"} and reads an execution id from stdin (the test starts the execution
// then, so that the subscription sees it run); it runs a query and a subscription typed into
// the editor, saves screenshots, and prints one JSON line of what happened for
// test_graphiql.py to judge. Usage: node drive-graphiql.mjs '{"url": ..., "artifacts": ...,
// "chromium": ...}'
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { chromium } from 'playwright-core';

const options = JSON.parse(process.argv[2]);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const TIMEOUT = 30_000;

const report = {
  blocked: [],
  failed: [],
  pageErrors: [],
  consoleErrors: [],
  introspection: null,
  operations: [],
  plugins: [],
  query: null,
  subscription: null,
  subscriptionStates: [],
  screenshots: [],
  probeAnswered: null,
  probeCounted: null,
  error: null,
};

function isLoopback(url) {
  const { protocol, hostname } = new URL(url);
  if (['data:', 'blob:', 'about:'].includes(protocol)) return true;
  return LOOPBACK.has(hostname);
}

async function screenshot(page, name) {
  const path = join(options.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
}

// The operation editor is Monaco: focus it, select everything and insert the text as typed
// input, on one line (insertText sends no key events, so no bracket is auto-closed and no
// suggestion is accepted by a newline).
async function runOperation(page, name, text) {
  const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  await page.keyboard.press('Escape'); // close any suggestion widget
  report.operations.push(await editor.locator('.view-lines').innerText());
  // GraphiQL reads the operation a moment after an edit (debounced); its tab is named after
  // the operation once it has, and only then does Run send the new one.
  await page
    .locator('.graphiql-session-header')
    .getByText(name, { exact: true })
    .waitFor({ timeout: TIMEOUT });
  await page.locator('.graphiql-execute-button').click();
}

async function responseText(page) {
  return (await page.locator('.result-window').innerText()).replace(/\u00a0/g, ' ');
}

async function waitForResponse(page, predicate, what, seen = () => {}) {
  const deadline = Date.now() + TIMEOUT;
  let text = '';
  while (Date.now() < deadline) {
    text = await responseText(page);
    seen(text);
    if (predicate(text)) return text;
    await page.waitForTimeout(50);
  }
  throw new Error(`${what}: the response pane shows ${JSON.stringify(text)}`);
}

const profile = await mkdtemp(join(tmpdir(), 'graphiql-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: options.chromium,
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // Anything not answered by a route below goes to a proxy that is not there; loopback
    // bypasses proxies by default.
    '--proxy-server=http://127.0.0.1:9',
  ],
});
try {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    report.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(
    (url) => !isLoopback(url.href.replace(/^ws/, 'http')),
    (ws) => {
      report.blocked.push(ws.url());
      ws.close();
    },
  );
  context.on('requestfailed', (request) => {
    report.failed.push(`${request.url()}: ${request.failure()?.errorText}`);
  });
  context.on('request', (request) => {
    if (!isLoopback(request.url()) && !report.blocked.includes(request.url())) {
      report.blocked.push(request.url());
    }
  });

  const page = await context.newPage();
  page.on('pageerror', (error) => report.pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') report.consoleErrors.push(message.text());
  });
  page.on('websocket', (ws) => {
    if (!isLoopback(ws.url().replace(/^ws/, 'http'))) report.blocked.push(ws.url());
  });
  const introspected = page.waitForResponse(
    (response) =>
      response.request().method() === 'POST' &&
      (response.request().postData() ?? '').includes('IntrospectionQuery'),
    { timeout: TIMEOUT },
  );

  await page.goto(options.url, { waitUntil: 'load', timeout: TIMEOUT });
  await page.locator('.graphiql-container').waitFor({ timeout: TIMEOUT });
  await page.locator('.graphiql-query-editor .monaco-editor').waitFor({ timeout: TIMEOUT });
  const introspection = await introspected;
  const body = await introspection.json();
  report.introspection = {
    status: introspection.status(),
    queryType: body?.data?.__schema?.queryType?.name ?? null,
    errors: body?.errors ?? null,
  };
  report.plugins = await page
    .locator('.graphiql-sidebar button[aria-label]')
    .evaluateAll((buttons) => buttons.map((button) => button.getAttribute('aria-label')));
  await screenshot(page, '1-loaded');

  console.log(JSON.stringify({ event: 'loaded' }));
  const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const executionId = (await stdin.next()).value.trim();

  await runOperation(
    page,
    'Status',
    `query Status { executionStatus(executionId: "${executionId}") { id state } }`,
  );
  report.query = await waitForResponse(
    page,
    (text) => text.includes(executionId),
    'the query',
  );
  await screenshot(page, '2-query');

  await runOperation(
    page,
    'Watch',
    `subscription Watch { executionStatus(executionId: "${executionId}") { id state isTerminal } }`,
  );
  report.subscription = await waitForResponse(
    page,
    (text) => text.includes('COMPLETED'),
    'the subscription',
    (text) => {
      const state = /"state": "(\w+)"/.exec(text)?.[1];
      if (state && report.subscriptionStates.at(-1) !== state) {
        report.subscriptionStates.push(state);
      }
    },
  );
  await screenshot(page, '3-subscription');

  // The guard itself: a CDN request must be blocked and counted. (GraphiQL's page could not
  // even try: its Content-Security-Policy allows its own origin only; a fresh tab has none.)
  const before = report.blocked.length;
  const probe = 'https://unpkg.com/graphiql/graphiql.min.js';
  const probePage = await context.newPage();
  report.probeAnswered = await probePage.goto(probe).then(
    () => true,
    () => false,
  );
  await probePage.close();
  report.probeCounted = report.blocked.slice(before).includes(probe);
  report.blocked = report.blocked.slice(0, before);
} catch (error) {
  report.error = String(error?.stack ?? error);
  const [page] = context.pages();
  if (page) await screenshot(page, 'failure').catch(() => {});
} finally {
  await context.close();
  process.stdin.destroy();
  await rm(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
