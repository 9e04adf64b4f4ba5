import { chromium } from 'playwright-core';
const [url] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'], headless: true });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(url);
await page.getByRole('status').filter({ hasText: '50,000 jobs in view' }).waitFor({ timeout: 120000 });
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
await cdp.send('Profiler.start');
const box = await page.getByTestId('timeline-canvas').boundingBox();
const midX = box.x + 120 + (box.width - 120) / 2, midY = box.y + 300;
await page.waitForTimeout(Number(process.argv[3] ?? 0));
for (let k = 0; k < Number(process.argv[4] ?? 2); k++) {
  await page.mouse.move(midX, midY);
  for (let i = 0; i < 10; i++) await page.mouse.wheel(0, -120);
  for (let i = 0; i < 10; i++) await page.mouse.wheel(0, 120);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) await page.mouse.move(midX - i * 15, midY);
  for (let i = 19; i >= 0; i--) await page.mouse.move(midX - i * 15, midY);
  await page.mouse.up();
}
const { profile } = await cdp.send('Profiler.stop');
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas; 
const counts = new Map();
profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
for (const [id, us] of counts) { const n = byId.get(id); const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`; self.set(name, (self.get(name) ?? 0) + us); }
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log('total ms', (total / 1000).toFixed(0));
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((us / 1000).toFixed(1).padStart(8), name);
await browser.close();
