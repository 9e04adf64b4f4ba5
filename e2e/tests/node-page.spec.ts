import { test, expect } from '../fixtures';

test.use({ appModule: 'node_app.py', nodeCount: 1, cpus: 2, firstIp: 20 });

test('node page: arguments, the show-arguments switch, terminating two jobs', async ({ page, context, cluster }) => {
  const ip = cluster.ips[0];
  await page.goto(cluster.url);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  cluster.openGate();

  // the node's address is a real link with its own URL
  await page.getByRole('table', { name: 'Nodes' }).getByRole('link', { name: ip }).click();
  await expect(page).toHaveURL(new RegExp(`/node/${ip.replace(/\./g, '\\.')}$`));
  await expect(page.getByRole('heading', { name: `Node ${ip}` })).toBeVisible();
  const jobs = page.getByRole('table', { name: 'Running jobs' });
  const readable = jobs.getByRole('row', { name: /readable/ });
  const unprintable = jobs.getByRole('row', { name: /unprintable/ });
  await expect(readable).toContainText('300, Readable(7)');
  await expect(readable).toContainText('label=first');
  await expect(unprintable).toContainText('<unprintable Unprintable: __str__ raised RuntimeError>');
  await expect(page.getByTestId('node-cpus-dispy')).toHaveText('2');
  await expect(page.getByTestId('node-busy')).toHaveText('2');

  // another browser turns job arguments off: this page hides them at once
  const other = await context.browser()!.newPage();
  await other.goto(cluster.url);
  const toggle = other.getByRole('checkbox', { name: 'Show job arguments' });
  await expect(toggle).toBeChecked();
  // the box follows the server-wide setting: it flips once the server has it
  await toggle.click();
  await expect(toggle).not.toBeChecked();
  await expect(readable).not.toContainText('Readable(7)');
  await expect(readable).toContainText('hidden');
  await expect(page.getByRole('checkbox', { name: 'Show job arguments' })).toHaveCount(0); // only on Monitor
  await toggle.click();
  await expect(toggle).toBeChecked();
  await expect(readable).toContainText('300, Readable(7)');

  // reload keeps the page; then select both running jobs and terminate them
  await page.reload();
  await expect(readable).toBeVisible();
  // the page never scrolls sideways (on a phone, only the tables' own boxes do): a
  // wider page made the phone lay it out wider than its screen, so taps missed
  await expect(page.getByTestId('resources-points')).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(page.viewportSize()!.width);
  await page.getByRole('checkbox', { name: 'Select job readable' }).check();
  await page.getByRole('checkbox', { name: 'Select job unprintable' }).check();
  await page.getByRole('button', { name: /^Terminate selected/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Terminate 2 jobs?' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Terminate', exact: true }).click();
  const results = page.getByRole('list', { name: 'Termination results' });
  await expect(results).toContainText('readable: terminated');
  await expect(results).toContainText('unprintable: terminated');
  await expect(readable).toHaveCount(0);
  await expect(unprintable).toHaveCount(0);
  // the queued job takes a freed CPU
  await expect(jobs.getByRole('row', { name: /queued/ })).toBeVisible();

  // back to Monitor: the two terminated jobs count as done
  await page.goBack();
  await expect(page.getByRole('heading', { name: 'Monitor' })).toBeVisible();
  await expect(page.getByTestId('jobs-terminated')).toHaveText('2');
  await expect(page.getByTestId('jobs-done')).toHaveText('2');
  await other.close();
});

test('interval 0 stops updates until Update is pressed', async ({ page, context, cluster }) => {
  await page.goto(cluster.url);
  const live = await context.browser()!.newPage();
  await live.goto(cluster.url);
  for (const p of [page, live]) await expect(p.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  const interval = page.getByLabel('Update interval (seconds)');
  await interval.fill('0');
  await interval.blur();
  const submitted = page.getByTestId('jobs-submitted');
  await expect(submitted).toHaveText('0');
  cluster.openGate(); // three jobs get submitted
  // the live page sees them; the paused page does not, until Update
  await expect(live.getByTestId('jobs-submitted')).toHaveText('3');
  await expect(live.getByTestId('jobs-running')).toHaveText('2');
  await expect(submitted).toHaveText('0');
  await page.getByRole('button', { name: 'Update', exact: true }).click();
  await expect(submitted).toHaveText('3');
  await expect(page.getByTestId('jobs-running')).toHaveText('2');
  await live.close();
});
