import { test, expect } from '../fixtures';

// The rules on the Alerts page against the real server: an operator's change
// is checked and answered by the server (a refusal names the setting), kept
// by it (a reload shows it) and audited; a viewer sees the rules read-only.
const OPERATOR = 'e2e-operator-token-alerts';
const VIEWER = 'e2e-viewer-token-alerts';
test.use({ appModule: 'node_app.py', nodeCount: 1, cpus: 1, firstIp: 175, serveArgs: ['--token', OPERATOR, '--viewer-token', VIEWER] });

test('an operator edits a rule and sees the server answer; a viewer reads the rules', async ({ browser, cluster }) => {
  const open = (token: string, where: string) => {
    const url = new URL(where, cluster.url);
    url.searchParams.set('token', token);
    return url.toString();
  };
  const operatorContext = await browser.newContext();
  const viewerContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  const viewer = await viewerContext.newPage();
  await operator.goto(open(OPERATOR, '/alerts'));
  await viewer.goto(open(VIEWER, '/alerts'));

  const rate = operator.getByRole('form', { name: /failure rate/i });
  const percent = rate.getByRole('textbox', { name: 'Failed (%)' });
  await expect(percent).toHaveValue('20');

  // the server refuses what is out of range, naming the setting; the form keeps what was typed
  await percent.fill('300');
  await rate.getByRole('button', { name: 'Save' }).click();
  await expect(rate.getByRole('alert')).toHaveText(/^Not saved: params\.percent: must be from 0\.1 to 100/);
  await expect(percent).toHaveValue('300');

  // then takes a good value, says what it has now, and every page follows
  await percent.fill('35');
  await rate.getByRole('button', { name: 'Save' }).click();
  await expect(rate.getByRole('status')).toHaveText('Saved. The server now has on; percent 35, min jobs 10, minutes 5.');
  const rules = viewer.getByRole('table', { name: 'Rules' });
  await expect(rules.getByRole('row', { name: /failure_rate/ })).toContainText('percent 35, min jobs 10, minutes 5');
  await expect(viewer.getByRole('form')).toHaveCount(0);
  await expect(viewer.getByRole('button', { name: 'Save' })).toHaveCount(0);
  await operator.reload();
  await expect(operator.getByRole('form', { name: /failure rate/i }).getByRole('textbox', { name: 'Failed (%)' })).toHaveValue('35');

  // a cluster's own setting for long_job, from the server's list of clusters
  const longJob = operator.getByRole('form', { name: /longer than its limit/ }).locator('..');
  await longJob.getByRole('button', { name: 'Add' }).click();
  const own = operator.getByRole('form', { name: /, cluster / });
  await own.getByRole('textbox', { name: 'After (seconds)' }).fill('90');
  await own.getByRole('checkbox', { name: 'Terminate the job' }).check();
  await own.getByRole('button', { name: 'Save' }).click();
  await expect(rules.getByRole('row', { name: /long_job/ })).toContainText(/: seconds 90, terminate yes/);

  // the server's audit log has both changes, by the operator
  await operator.goto(open(OPERATOR, '/manage'));
  const audit = operator.getByRole('table', { name: 'Audit log' });
  await expect(audit.getByRole('row', { name: /Set alert rule/ })).toHaveCount(2);
  await expect(audit.getByRole('row', { name: /Set alert rule.*failure_rate/ })).toContainText('percent=35');
  await operatorContext.close();
  await viewerContext.close();
});
