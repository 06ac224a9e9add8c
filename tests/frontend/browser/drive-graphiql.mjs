// Drives GraphiQL in Debian's headless Chromium as a person would, on a machine "without
// internet" (offline-chromium.mjs: every request to a host other than loopback is aborted and
// counted). Once GraphiQL has loaded it prints {"event": "loaded"} and reads an execution id
// from stdin (the test starts the execution then, so that the subscription sees it run); it
// runs a query and a subscription typed into the editor, saves screenshots, and prints one
// JSON line of what happened for test_graphiql.py to judge. Usage: node drive-graphiql.mjs '{"url": ..., "artifacts": ...,
// "chromium": ...}'
import { createInterface } from 'node:readline';

import { launchOffline, probeTheGuard, screenshot as save } from './offline-chromium.mjs';

const options = JSON.parse(process.argv[2]);
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

const screenshot = (page, name) => save(page, options.artifacts, name, report);

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

const { context, close } = await launchOffline(options.chromium, report);
try {
  const page = await context.newPage();
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
    `query Status { executionStatus(executionId: "${executionId}") { id executionId state } }`,
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
    `subscription Watch { executionStatus(executionId: "${executionId}") { id executionId state isTerminal } }`,
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

  // The guard itself. (GraphiQL's page could not even try: its Content-Security-Policy allows
  // its own origin only; a fresh tab has none.)
  await probeTheGuard(context, report);
} catch (error) {
  report.error = String(error?.stack ?? error);
  const page = context.pages().at(-1);
  if (page) await screenshot(page, 'failure').catch(() => {});
} finally {
  await close();
  process.stdin.destroy();
}
console.log(JSON.stringify(report));
