// Debian's headless Chromium (driven by playwright-core, never a downloaded browser) on a
// machine "without internet", for the browser tests: every request to a host other than
// loopback is aborted and counted in `blocked`, and a dead proxy catches anything the routes
// could miss. Shared by drive-graphiql.mjs and drive-web-example.mjs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
// A CDN the guard must refuse (and count) when asked to prove itself.
const PROBE = 'https://unpkg.com/graphiql/graphiql.min.js';

export function isLoopback(url) {
  const { protocol, hostname } = new URL(url.replace(/^ws/, 'http'));
  if (['data:', 'blob:', 'about:'].includes(protocol)) return true;
  return LOOPBACK.has(hostname);
}

// A persistent context in a fresh profile, with the guard installed; `report` gets `blocked`
// (every non-loopback URL attempted), `failed`, `pageErrors` and `consoleErrors` filled in by
// the pages it opens. `close()` also removes the profile.
export async function launchOffline(executablePath, report, { viewport } = {}) {
  report.blocked ??= [];
  report.failed ??= [];
  report.pageErrors ??= [];
  report.consoleErrors ??= [];
  const profile = await mkdtemp(join(tmpdir(), 'experience-plane-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: viewport ?? { width: 1400, height: 900 },
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
  const block = (url) => {
    if (!report.blocked.includes(url)) report.blocked.push(url);
  };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    block(url);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(
    (url) => !isLoopback(url.href),
    (ws) => {
      block(ws.url());
      ws.close();
    },
  );
  context.on('requestfailed', (request) => {
    report.failed.push(`${request.url()}: ${request.failure()?.errorText}`);
  });
  context.on('request', (request) => {
    if (!isLoopback(request.url())) block(request.url());
  });
  context.on('page', (page) => {
    page.on('pageerror', (error) => report.pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') report.consoleErrors.push(message.text());
    });
    page.on('websocket', (ws) => {
      if (!isLoopback(ws.url())) block(ws.url());
    });
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

// The guard itself: a CDN request from a fresh tab must be refused and counted. Sets
// `report.probeAnswered` and `report.probeCounted`, and leaves `report.blocked` as it was.
export async function probeTheGuard(context, report) {
  const before = report.blocked.length;
  const page = await context.newPage();
  report.probeAnswered = await page.goto(PROBE).then(
    () => true,
    () => false,
  );
  await page.close();
  report.probeCounted = report.blocked.slice(before).includes(PROBE);
  report.blocked = report.blocked.slice(0, before);
}

export async function screenshot(page, directory, name, report) {
  const path = join(directory, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
}
