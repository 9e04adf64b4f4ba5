// The timeline page in Chromium with many bars in view, zoomed and panned (benchmarks/b_timeline.py).
//
//   node benchmarks/timeline.mjs <url> <bars> <seconds> [width]
//
// Opens <url> (a /timeline page), waits until the status says <bars> jobs are
// in view, then for <seconds> zooms (wheel steps at the plot's middle, in and
// back out) and pans (mouse drags), as a person would, while the page records
// long tasks (PerformanceObserver 'longtask', over 50 ms), animation-frame
// intervals, and each canvas frame's drawing time (draw.ts's setTransform to its
// final restore). Prints one JSON object.
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const CHROMIUM = process.env.DISPYMON_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function instrument() {
  const bench = { longTasks: [], frames: [], draws: [], record: false };
  window.__bench = bench;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) bench.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  let last = null;
  const frame = (t) => {
    if (bench.record && last !== null) bench.frames.push(t - last);
    last = t;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  // a frame of the timeline: setTransform (its first call) … restore (its last)
  const proto = CanvasRenderingContext2D.prototype;
  const setTransform = proto.setTransform;
  const restore = proto.restore;
  let began = null;
  proto.setTransform = function (...args) {
    began = performance.now();
    return setTransform.apply(this, args);
  };
  proto.restore = function (...args) {
    const out = restore.apply(this, args);
    if (began !== null && bench.record) bench.draws.push(performance.now() - began);
    began = null;
    return out;
  };
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (p) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : null);
  return { count: s.length, p50: at(50), p95: at(95), p99: at(99), max: s.length ? s[s.length - 1] : null };
}

const [url, barsText, secondsText, widthText] = process.argv.slice(2);
const bars = Number(barsText);
const seconds = Number(secondsText ?? 20);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
try {
  const page = await browser.newPage({ viewport: { width: Number(widthText ?? 1280), height: 900 } });
  await page.addInitScript(instrument);
  const opened = Date.now();
  await page.goto(url);
  const status = page.getByRole('status').filter({ hasText: /jobs? in view/ });
  // at least <bars> in view (a live cluster adds its own)
  await page.waitForFunction(
    (least) => [...document.querySelectorAll('[role="status"]')].some((el) => {
      const m = /^([\d,]+) jobs? in view/.exec(el.textContent ?? '');
      return m !== null && Number(m[1].replace(/,/g, '')) >= least;
    }),
    bars,
    { timeout: 120_000 },
  );
  const firstMs = Date.now() - opened;
  const canvas = page.getByTestId('timeline-canvas');
  const box = await canvas.boundingBox();
  const midX = box.x + 120 + (box.width - 120) / 2;
  const midY = box.y + Math.min(box.height, 500) / 2;
  // what is drawn in view at the start (the page's own count)
  const inView = await status.textContent();
  // DISPYMON_BENCH_PROFILE=FILE: Chromium's sampling profiler (200 µs) over the gestures; FILE gets the
  // functions with the most self time (the .cpuprofile beside it opens in Chrome's DevTools)
  const profileTo = process.env.DISPYMON_BENCH_PROFILE;
  let cdp = null;
  if (profileTo) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  const t0 = await page.evaluate(() => {
    window.__bench.record = true;
    return performance.now();
  });
  const end = Date.now() + seconds * 1000;
  let wheels = 0;
  let drags = 0;
  while (Date.now() < end) {
    await page.mouse.move(midX, midY);
    for (let i = 0; i < 10; i++, wheels++) await page.mouse.wheel(0, -120); // in
    for (let i = 0; i < 10; i++, wheels++) await page.mouse.wheel(0, 120); // and back out
    await page.mouse.move(midX, midY);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) await page.mouse.move(midX - i * 15, midY);
    for (let i = 19; i >= 0; i--) await page.mouse.move(midX - i * 15, midY);
    await page.mouse.up();
    drags++;
  }
  const b = await page.evaluate(() => ({ ...window.__bench, now: performance.now() }));
  if (cdp !== null) {
    const { profile } = await cdp.send('Profiler.stop');
    writeFileSync(`${profileTo}.cpuprofile`, JSON.stringify(profile));
    const self = new Map();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, k) => {
      const f = byId.get(id).callFrame;
      const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
      self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[k] ?? 0) / 1000);
    });
    const top = [...self].sort((x, y) => y[1] - x[1]).slice(0, 30);
    writeFileSync(profileTo, top.map(([name, ms]) => `${ms.toFixed(0).padStart(7)} ms  ${name}`).join('\n') + '\n');
  }
  const longTasks = b.longTasks.filter((t) => t.start >= t0);
  console.log(
    JSON.stringify({
      bars,
      inView,
      firstMs,
      seconds: (b.now - t0) / 1000,
      wheels,
      drags,
      longTasks: { count: longTasks.length, max: longTasks.reduce((m, t) => Math.max(m, t.duration), 0), all: longTasks.map((t) => Math.round(t.duration)) },
      frames: stats(b.frames),
      draws: stats(b.draws),
      chromium: browser.version(),
    }),
  );
} finally {
  await browser.close();
}
