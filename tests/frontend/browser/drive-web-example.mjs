// Drives examples/web in Debian's headless Chromium as a person would, on a machine "without
// internet" (offline-chromium.mjs: every request to a host other than loopback is aborted and
// counted): it opens the page (API endpoint and token in its query string, as
// examples/web/README.md documents), chooses files in its file input, presses "Upload and
// mash", watches the progress bars and the live statuses until the page is done, saves
// screenshots, and prints one JSON line of what it saw for test_web_example.py to judge.
// Usage: node drive-web-example.mjs '{"url": ..., "files": [...], "artifacts": ...,
// "chromium": ...}'
import { launchOffline, probeTheGuard, screenshot as save } from './offline-chromium.mjs';

const options = JSON.parse(process.argv[2]);
const TIMEOUT = 60_000;

const report = {
  blocked: [],
  failed: [],
  pageErrors: [],
  consoleErrors: [],
  websockets: [],
  // Per file, every distinct state (and status text) its row showed, and its progress bar at
  // the end; the same for the mash.
  uploads: {},
  mash: { states: [], texts: [] },
  status: null,
  error: null,
  records: { header: [], rows: [] },
  screenshots: [],
  probeAnswered: null,
  probeCounted: null,
  driverError: null,
};

const screenshot = (page, name) => save(page, options.artifacts, name, report);

// What the page shows now: each upload row, the mash's status, the body's status.
function snapshot() {
  const text = (element) => element?.textContent.trim() ?? null;
  return {
    status: document.body.dataset.status ?? null,
    uploads: [...document.querySelectorAll('tr.upload')].map((row) => {
      const bar = row.querySelector('progress');
      return {
        file: text(row.cells[0]),
        execution: text(row.cells[2]),
        state: text(row.querySelector('td.state')),
        dataState: row.querySelector('td.state')?.dataset.state ?? null,
        progress: { value: bar.value, max: bar.max },
      };
    }),
    mash: {
      state: document.getElementById('mash-state').dataset.state ?? null,
      text: text(document.getElementById('mash-state')),
    },
    error: text(document.getElementById('error')),
  };
}

function remember(seen, value) {
  if (value && seen.at(-1) !== value) seen.push(value);
}

function follow(now) {
  for (const upload of now.uploads) {
    const seen = (report.uploads[upload.file] ??= { states: [], texts: [] });
    remember(seen.states, upload.dataState);
    remember(seen.texts, upload.state);
    Object.assign(seen, { progress: upload.progress, execution: upload.execution });
  }
  remember(report.mash.states, now.mash.state);
  remember(report.mash.texts, now.mash.text);
}

const { context, close } = await launchOffline(options.chromium, report, {
  viewport: { width: 1200, height: 900 },
});
try {
  const page = await context.newPage();
  page.on('websocket', (ws) => report.websockets.push(ws.url()));
  await page.goto(options.url, { waitUntil: 'load', timeout: TIMEOUT });
  await page.locator('#files').setInputFiles(options.files);
  await screenshot(page, '1-files-chosen');
  await page.locator('#start').click();

  // Poll what the page shows until it says it is done (or failed); keep a screenshot of the
  // first moment an execution is being followed.
  let during = false;
  const deadline = Date.now() + TIMEOUT;
  let now = await page.evaluate(snapshot);
  while (!['done', 'failed'].includes(now.status)) {
    if (Date.now() > deadline) throw new Error(`the page never finished: ${JSON.stringify(now)}`);
    follow(now);
    if (!during && now.uploads.some((upload) => upload.execution)) {
      await screenshot(page, '2-following');
      during = true;
    }
    await page.waitForTimeout(25);
    now = await page.evaluate(snapshot);
  }
  follow(now);
  report.status = now.status;
  report.error = now.error;
  report.records = await page.locator('#records').evaluate((table) => ({
    header: [...table.querySelectorAll('th')].map((th) => th.textContent),
    rows: [...table.querySelectorAll('tr.record')].map((row) =>
      [...row.cells].map((cell) => cell.textContent),
    ),
  }));
  await screenshot(page, '3-done');
  await probeTheGuard(context, report);
} catch (error) {
  report.driverError = String(error?.stack ?? error);
  const page = context.pages().at(-1);
  if (page) await screenshot(page, 'failure').catch(() => {});
} finally {
  await close();
}
console.log(JSON.stringify(report));
