// The dashboard in Chromium, measured from the page with the Performance API.
//
//   node benchmarks/browser.mjs snapshot <url> [repeats]   snapshot frame → painted nodes table
//   node benchmarks/browser.mjs churn <url> <seconds> [sortColumn]   long tasks, frames, rows in the DOM
//   node benchmarks/browser.mjs scroll <url> <seconds>     a Node page's running jobs, scrolled
//   node benchmarks/browser.mjs jobs <url> <wheelPx>       the Jobs view: first answer → rows painted, then scrolled to its end
//   node benchmarks/browser.mjs requests <url> <seconds>   the files a page fetches (its chart drawn, then <seconds> more)
//   node benchmarks/browser.mjs load <url> <repeats> <desktop|phone> [sortColumn]
//        navigation → the nodes table's first rows painted, → the page free for input; then a click on a
//        column's sort button → the re-sorted rows painted (phone: Pixel 7 viewport, 4× CPU throttling)
//
// Prints one JSON object. The servers are started by benchmarks/b7_browser.py.
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.DISPYMON_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Runs in the page before the app: timestamps the snapshot frame as it
// arrives (our listener is added before the app's), records long tasks and
// animation frames, and notes when the nodes table's rows are painted.
function instrument() {
  const bench = {
    snapshotAt: null,
    paintedAt: null,
    // the nodes table's virtualised body (a lazily loaded module) in place: its spacer row
    virtualAt: null,
    longTasks: [],
    frames: [],
    maxRows: 0,
    recordFrames: false,
    // the Jobs view: its first page's answer (a `result` frame with a `selection`), its rows painted
    resultAt: null,
    jobsPaintedAt: null,
    maxJobRows: 0,
  };
  window.__bench = bench;
  const Native = window.WebSocket;
  const SNAPSHOT = [...new TextEncoder().encode('snapshot')];
  const RESULT = [...new TextEncoder().encode('result')];
  const SELECTION = [...new TextEncoder().encode('selection')];
  const has = (bytes, word) => {
    outer: for (let i = 0; i + word.length <= bytes.length; i++) {
      for (let j = 0; j < word.length; j++) if (bytes[i + j] !== word[j]) continue outer;
      return true;
    }
    return false;
  };
  const isSnapshot = (data) => data instanceof ArrayBuffer && has(new Uint8Array(data, 0, Math.min(24, data.byteLength)), SNAPSHOT);
  const isJobsPage = (data) =>
    data instanceof ArrayBuffer &&
    has(new Uint8Array(data, 0, Math.min(24, data.byteLength)), RESULT) &&
    has(new Uint8Array(data, 0, Math.min(4096, data.byteLength)), SELECTION);
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (bench.snapshotAt === null && isSnapshot(e.data)) bench.snapshotAt = performance.now();
        if (bench.resultAt === null && isJobsPage(e.data)) bench.resultAt = performance.now();
      });
    }
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) bench.longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
  const afterPaint = (cb) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => cb(performance.now());
      channel.port2.postMessage(0);
    });
  const rowsSelector = 'table[aria-label="Nodes"] tbody tr[aria-rowindex], table[aria-label="Running jobs"] tbody tr[aria-rowindex]';
  const watch = () => {
    new MutationObserver(() => {
      const rows = document.querySelectorAll(rowsSelector).length;
      if (rows > bench.maxRows) bench.maxRows = rows;
      if (bench.paintedAt === null && bench.snapshotAt !== null && rows > 0) {
        bench.paintedAt = -1;
        afterPaint((t) => (bench.paintedAt = t));
      }
      const jobRows = document.querySelectorAll('table[aria-label="Matching jobs"] tbody tr[aria-rowindex]').length;
      if (jobRows > bench.maxJobRows) bench.maxJobRows = jobRows;
      if (bench.jobsPaintedAt === null && bench.resultAt !== null && document.querySelector('table[aria-label="Matching jobs"] tbody tr.jobs-row:not(.pending)')) {
        bench.jobsPaintedAt = -1;
        afterPaint((t) => (bench.jobsPaintedAt = t));
      }
      if (bench.virtualAt === null && bench.snapshotAt !== null && document.querySelector('table[aria-label="Nodes"] tbody tr.spacer')) {
        bench.virtualAt = -1;
        afterPaint((t) => (bench.virtualAt = t));
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener('DOMContentLoaded', watch);
  let last = null;
  const frame = (t) => {
    if (bench.recordFrames && last !== null) bench.frames.push(t - last);
    last = t;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (p) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : null);
  return { count: s.length, p50: at(50), p95: at(95), p99: at(99), max: s.length ? s[s.length - 1] : null };
}

async function open(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript(instrument);
  await page.goto(url, { timeout: 120_000 }); // see load()
  return page;
}

async function snapshot(browser, url, repeats) {
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    const page = await open(browser, url);
    await page.waitForFunction(() => window.__bench.paintedAt > 0, null, { timeout: 60_000 });
    const painted = await page.evaluate(() => document.querySelectorAll('table[aria-label="Nodes"] tbody tr[aria-rowindex]').length);
    // above 100 rows the first ones show plainly until the virtualiser's module is in
    await page.waitForFunction(() => window.__bench.virtualAt > 0, null, { timeout: 60_000 });
    const b = await page.evaluate(() => ({ ...window.__bench, dom: document.querySelectorAll('table[aria-label="Nodes"] tbody tr').length }));
    const count = await page.getByRole('table', { name: 'Nodes' }).getAttribute('aria-rowcount');
    runs.push({ ms: b.paintedAt - b.snapshotAt, virtualMs: b.virtualAt - b.snapshotAt, rowsPainted: painted, rowsInDom: b.dom, rowCount: Number(count) - 1, longTasks: b.longTasks.filter((t) => t.start + t.duration >= b.snapshotAt) });
    await page.close();
  }
  return { scenario: 'snapshot', runs, ms: stats(runs.map((r) => r.ms)), virtualMs: stats(runs.map((r) => r.virtualMs)) };
}

async function churn(browser, url, seconds, sortColumn) {
  const page = await open(browser, url);
  const table = page.getByRole('table', { name: 'Nodes' });
  await table.locator('tbody tr[aria-rowindex]').first().waitFor({ timeout: 60_000 });
  if (sortColumn) await table.getByRole('button', { name: sortColumn, exact: true }).click();
  await page.waitForTimeout(1000); // settle after the snapshot
  const t0 = await page.evaluate(() => {
    const b = window.__bench;
    b.recordFrames = true;
    b.frames = [];
    b.maxRows = 0;
    return performance.now();
  });
  const before = await page.getByTestId('jobs-done').textContent();
  await page.waitForTimeout(seconds * 1000);
  const after = await page.getByTestId('jobs-done').textContent();
  const b = await page.evaluate(() => ({ ...window.__bench, dom: document.querySelectorAll('table[aria-label="Nodes"] tbody tr').length }));
  const longTasks = b.longTasks.filter((t) => t.start >= t0);
  await page.close();
  return {
    scenario: 'churn',
    sortColumn: sortColumn ?? null,
    seconds,
    jobsDone: [before, after],
    longTasks: { count: longTasks.length, max: longTasks.reduce((m, t) => Math.max(m, t.duration), 0) },
    frames: stats(b.frames),
    maxRowsInDom: b.maxRows,
    rowsInDomAtEnd: b.dom,
  };
}

async function scroll(browser, url, seconds) {
  const page = await open(browser, url);
  const table = page.getByRole('table', { name: 'Running jobs' });
  await page.waitForFunction(() => window.__bench.paintedAt > 0, null, { timeout: 120_000 });
  const first = await page.evaluate(() => window.__bench.paintedAt - window.__bench.snapshotAt);
  const total = Number(await table.getAttribute('aria-rowcount')) - 1;
  await table.locator('tbody tr[aria-rowindex]').first().hover();
  await page.waitForTimeout(500);
  const t0 = await page.evaluate(() => {
    const b = window.__bench;
    b.recordFrames = true;
    b.frames = [];
    b.maxRows = 0;
    return performance.now();
  });
  // real wheel input, as a person flicks through the list: 600 px every 16 ms
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await page.mouse.wheel(0, 600);
    await page.waitForTimeout(16);
  }
  const b = await page.evaluate(() => {
    const box = document.querySelector('.running-jobs .virtual-scroll');
    return { ...window.__bench, scrollTop: box ? box.scrollTop : null, dom: document.querySelectorAll('table[aria-label="Running jobs"] tbody tr').length };
  });
  const longTasks = b.longTasks.filter((t) => t.start >= t0);
  await page.close();
  return {
    scenario: 'scroll',
    jobs: total,
    snapshotToPaintedMs: first,
    seconds,
    scrolledPx: b.scrollTop,
    longTasks: { count: longTasks.length, max: longTasks.reduce((m, t) => Math.max(m, t.duration), 0) },
    frames: stats(b.frames),
    maxRowsInDom: b.maxRows,
  };
}

// The Jobs view of a cluster with many jobs: from the first page's answer to
// its rows painted, then real wheel input down to the table's end, and the
// time until the last rows are there (their page asked for where the
// scrolling stopped).
async function jobs(browser, url, wheelPx) {
  const page = await open(browser, url);
  const table = page.getByRole('table', { name: 'Matching jobs' });
  await page.waitForFunction(() => window.__bench.jobsPaintedAt > 0, null, { timeout: 120_000 });
  const first = await page.evaluate(() => {
    const b = window.__bench;
    return { answerToPainted: b.jobsPaintedAt - b.resultAt, loadToPainted: b.jobsPaintedAt, loadToAnswer: b.resultAt };
  });
  const total = Number(await table.getAttribute('aria-rowcount')) - 1;
  await table.locator('tbody tr.jobs-row:not(.pending)').first().hover();
  await page.waitForTimeout(500);
  const t0 = await page.evaluate(() => {
    const b = window.__bench;
    b.recordFrames = true;
    b.frames = [];
    b.maxJobRows = 0;
    return performance.now();
  });
  const atEnd = () =>
    page.evaluate(() => {
      const box = document.querySelector('table[aria-label="Matching jobs"]').closest('.virtual-scroll');
      return box.scrollTop + box.clientHeight >= box.scrollHeight - 2;
    });
  const started = Date.now();
  let wheels = 0;
  while (!(await atEnd()) && Date.now() - started < 240_000) {
    await page.mouse.wheel(0, wheelPx);
    await page.waitForTimeout(16);
    wheels++;
  }
  const scrolledMs = Date.now() - started;
  // the last row's page, asked for where the wheel stopped
  await page.locator(`table[aria-label="Matching jobs"] tbody tr.jobs-row[aria-rowindex="${total + 1}"]:not(.pending)`).waitFor({ timeout: 60_000 });
  const lastRowsMs = Date.now() - started - scrolledMs;
  const b = await page.evaluate(() => {
    const box = document.querySelector('table[aria-label="Matching jobs"]').closest('.virtual-scroll');
    return { ...window.__bench, scrollTop: box.scrollTop, dom: document.querySelectorAll('table[aria-label="Matching jobs"] tbody tr').length };
  });
  const longTasks = b.longTasks.filter((t) => t.start >= t0);
  const loadLongTasks = b.longTasks.filter((t) => t.start < t0);
  await page.close();
  return {
    scenario: 'jobs',
    jobs: total,
    ...first,
    wheelPx,
    wheels,
    scrolledMs,
    lastRowsMs,
    scrolledPx: b.scrollTop,
    longTasks: { count: longTasks.length, max: longTasks.reduce((m, t) => Math.max(m, t.duration), 0) },
    loadLongTasks: { count: loadLongTasks.length, max: loadLongTasks.reduce((m, t) => Math.max(m, t.duration), 0) },
    frames: stats(b.frames),
    maxRowsInDom: b.maxJobRows,
    rowsInDomAtEnd: b.dom,
  };
}

// What a browser opening the page downloads: every HTTP request (the
// WebSocket is not one), with the body's size as sent and its encoding, and
// whether it came before the nodes table's first rows were in the DOM.
async function requests(browser, url, seconds) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const t0 = Date.now();
  let paintedMs = null;
  const pending = [];
  page.on('requestfinished', (request) =>
    pending.push(
      (async () => {
        const response = await request.response();
        const sizes = await request.sizes();
        return {
          path: new URL(request.url()).pathname,
          ms: Date.now() - t0,
          status: response ? response.status() : null,
          encoding: response ? ((await response.headerValue('content-encoding')) ?? null) : null,
          bodyBytes: sizes.responseBodySize,
        };
      })(),
    ),
  );
  await page.goto(url);
  await page.getByRole('table', { name: 'Nodes' }).locator('tbody tr[aria-rowindex]').first().waitFor({ timeout: 60_000 });
  paintedMs = Date.now() - t0;
  // the chart's lazily loaded plot, drawn once the page's first series arrived
  await page.getByTestId('jobs-chart').locator('canvas').first().waitFor({ timeout: 60_000 });
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(seconds * 1000);
  const files = await Promise.all(pending);
  await context.close();
  return { scenario: 'requests', url, paintedMs, seconds, files };
}

// Pixel 7 as Playwright's device list has it (412×915 CSS px, DPR 2.625, touch).
const PIXEL_7 = { viewport: { width: 412, height: 915 }, deviceScaleFactor: 2.625, isMobile: true, hasTouch: true };

// A fresh page load each round (a new context: nothing cached), timed from
// navigation start (performance.now()'s origin):
// - painted: the nodes table's first rows painted (rAF, then a task after the frame);
// - ready: when an input arriving at that paint would be handled: the end of
//   the long task running then, and of each one it runs into (the main thread
//   watched 1.5 s after the paint);
// - sort: a click on a column's sort button (dispatched in the page, so no
//   round trip through the driver is counted) → the re-sorted rows painted.
async function load(browser, url, repeats, device, sortColumn) {
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    const context = await browser.newContext(device === 'phone' ? PIXEL_7 : { viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    if (device === 'phone') {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    }
    await page.addInitScript(instrument);
    // a server of 100,000 nodes on a loaded machine can take longer than the default 30 s to serve the page
    await page.goto(url, { timeout: 120_000 });
    await page.waitForFunction(() => window.__bench.paintedAt > 0, null, { timeout: 120_000 });
    await page.waitForTimeout(1500);
    const b = await page.evaluate(() => window.__bench);
    const tasks = b.longTasks.map((t) => ({ start: t.start, end: t.start + t.duration })).sort((x, y) => x.start - y.start);
    let ready = b.paintedAt;
    for (const t of tasks) if (t.start <= ready && t.end > ready) ready = t.end;
    let sortMs = null;
    if (sortColumn) {
      sortMs = await page.evaluate(
        (name) =>
          new Promise((resolve) => {
            const table = document.querySelector('table[aria-label="Nodes"]');
            const button = [...table.querySelectorAll('thead button')].find((e) => e.textContent.trim() === name || e.getAttribute('aria-label') === name);
            const t0 = performance.now();
            button.click();
            requestAnimationFrame(() => {
              const channel = new MessageChannel();
              channel.port1.onmessage = () => resolve(performance.now() - t0);
              channel.port2.postMessage(0);
            });
          }),
        sortColumn,
      );
    }
    const rows = await page.evaluate(() => document.querySelectorAll('table[aria-label="Nodes"] tbody tr[aria-rowindex]').length);
    const count = await page.getByRole('table', { name: 'Nodes' }).getAttribute('aria-rowcount');
    runs.push({
      paintedMs: b.paintedAt,
      snapshotAtMs: b.snapshotAt,
      readyMs: ready,
      sortMs,
      rowsInDom: rows,
      rowCount: Number(count) - 1,
      loadLongTasks: tasks.filter((t) => t.start < b.paintedAt + 1500).map((t) => Math.round(t.end - t.start)),
    });
    await context.close();
  }
  const col = (key) => stats(runs.filter((r) => r[key] !== null).map((r) => r[key]));
  return { scenario: 'load', device, sortColumn: sortColumn ?? null, runs, paintedMs: col('paintedMs'), readyMs: col('readyMs'), sortMs: col('sortMs') };
}

const [scenario, url, ...rest] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
try {
  let out;
  if (scenario === 'snapshot') out = await snapshot(browser, url, Number(rest[0] ?? 7));
  else if (scenario === 'churn') out = await churn(browser, url, Number(rest[0] ?? 30), rest[1]);
  else if (scenario === 'scroll') out = await scroll(browser, url, Number(rest[0] ?? 5));
  else if (scenario === 'jobs') out = await jobs(browser, url, Number(rest[0] ?? 6000));
  else if (scenario === 'load') out = await load(browser, url, Number(rest[0] ?? 5), rest[1] ?? 'desktop', rest[2]);
  else if (scenario === 'requests') out = await requests(browser, url, Number(rest[0] ?? 3));
  else throw new Error(`unknown scenario ${scenario}`);
  out.chromium = browser.version();
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
