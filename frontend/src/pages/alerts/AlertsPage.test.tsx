// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alert, AlertsPart } from '../../core/protocol';
import type { DashboardState } from '../../core/store';
import { alert, alertRules, alertsPart, cluster, hello } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';
import { HISTORY_PAGE } from './AlertHistory';

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  history.replaceState(null, '', '/');
});

async function openAlerts(part: AlertsPart | null, init: Partial<DashboardState> = {}) {
  history.replaceState(null, '', '/alerts');
  const app = renderApp({ alerts: part, clusters: { alpha: cluster('alpha'), beta: cluster('beta') }, ...init });
  await screen.findByRole('heading', { level: 2, name: 'Alerts' }, { timeout: 5000 });
  return app;
}

const rowsOf = (name: string) =>
  within(screen.getByRole('table', { name }))
    .getAllByRole('row')
    .slice(1)
    .map((r) => within(r).getAllByRole('cell').map((c) => c.textContent));

/** Answers the page's last `alerts_history` query. */
async function answerHistory(app: ReturnType<typeof renderApp>, alerts: Alert[], more = false) {
  const asked = app.commands.filter((c) => c.name === 'alerts_history').at(-1)!;
  await act(async () => asked.resolve({ alerts, more }));
  return asked;
}

describe('Alerts page', () => {
  it('is reached from the navigation and says when nothing fires', async () => {
    const app = renderApp({ alerts: alertsPart() });
    fireEvent.click(screen.getByRole('link', { name: 'Alerts' }));
    expect(location.pathname).toBe('/alerts');
    await screen.findByRole('heading', { level: 2, name: 'Alerts' }, { timeout: 5000 });
    expect(screen.getByText('Nothing is firing.')).toBeTruthy();
    // set by the page's effect, which may run after its first paint
    await waitFor(() => expect(document.title).toBe('Alerts · dispymon'));
    await answerHistory(app, []);
    expect(screen.getByText('No alert has fired yet.')).toBeTruthy();
  });

  it('lists what fires, oldest first, with its rule, where it is (linked) and what the rule did', async () => {
    await openAlerts(
      alertsPart(
        [
          alert(4, { summary: 'node 127.0.0.3 closed (cluster alpha)' }),
          alert(9, { rule: 'long_job', severity: 'warning', node: null, cluster: 'beta', job: { key: 17, id: 'job-17' }, summary: 'job job-17 running for 65 s', action: 'terminated' }),
        ],
        { firing_total: 3 },
      ),
    );
    const rows = rowsOf('Firing now');
    expect(rows.map((r) => [r[0], r[1], r[2], r[3], r[5]])).toEqual([
      ['critical', 'node 127.0.0.3 closed (cluster alpha)', 'A node closed', 'cluster alpha, node 127.0.0.3', ''],
      ['warning', 'job job-17 running for 65 s', 'A job running long', 'cluster beta, job job-17', 'terminated'],
    ]);
    expect(screen.getByRole('link', { name: '127.0.0.3' }).getAttribute('href')).toBe('/node/127.0.0.3');
    expect(screen.getByRole('link', { name: 'job-17' }).getAttribute('href')).toBe('/job/beta/job-17?key=17');
    expect(screen.getByText(/1 more firing are not listed/)).toBeTruthy();
  });

  it('pages the history by alert id, newest first, and asks it again when what fires changes', async () => {
    const app = await openAlerts(alertsPart([alert(300)]));
    expect(app.sent('alerts_history').args).toEqual({ limit: HISTORY_PAGE });
    const page1 = [alert(300), alert(299, { resolved: alert(299).started + 75 })];
    await answerHistory(app, page1, true);
    expect(rowsOf('History').map((r) => [r[1], r[2], r[4]])).toEqual([
      ['firing', '', page1[0]!.summary],
      [expect.stringMatching(/^\d{4}-\d\d-\d\d /), '1 min 15 s', page1[1]!.summary],
    ]);
    const newer = screen.getByRole('button', { name: 'Newer' }) as HTMLButtonElement;
    expect(newer.disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Older' }));
    expect(app.commands.at(-1)!.args).toEqual({ before: 299, limit: HISTORY_PAGE });
    await answerHistory(app, [alert(12, { resolved: alert(12).started + 5 })], false);
    expect((screen.getByRole('button', { name: 'Older' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(newer);
    expect(app.commands.at(-1)!.args).toEqual({ limit: HISTORY_PAGE });
    await answerHistory(app, page1, true);
    // a new alert fires: the newest page is asked again
    const before = app.commands.length;
    act(() => {
      app.store.getState().receiveDelta({ type: 'delta', seq: 2, alerts: alertsPart([alert(300), alert(301)]) });
    });
    expect(app.commands.length).toBe(before + 1);
    expect(app.commands.at(-1)!.args).toEqual({ limit: HISTORY_PAGE });
  });

  it('says why the history could not be read', async () => {
    const app = await openAlerts(alertsPart());
    await act(async () => app.sent('alerts_history').fail('timeout', 'no answer in 10 s'));
    expect(screen.getByRole('alert').textContent).toBe('Could not load the history of alerts: no answer in 10 s');
  });

  it('shows the webhooks: none configured, or their deliveries and the last failure', async () => {
    const app = await openAlerts(alertsPart());
    expect(screen.getByText(/No webhook: the server was started without one/)).toBeTruthy();
    act(() => {
      app.store.getState().receiveDelta({
        type: 'delta',
        seq: 2,
        alerts: alertsPart([], { webhooks: { targets: 2, delivered: 5, failed: 3, dropped: 1, queued: 4, last_error: 'http://127.0.0.1:9/hook: timed out after 3 tries', last_error_at: 1_700_000_100 } }),
      });
    });
    const section = screen.getByRole('region', { name: 'Webhooks' });
    const figures = within(section).getAllByRole('term').map((t) => `${t.textContent}=${t.nextSibling?.textContent}`);
    expect(figures).toEqual(['Targets=2', 'Delivered=5', 'Failed=3', 'Dropped (too many waiting)=1', 'Waiting=4']);
    expect(within(section).getByText(/Last delivery failure at .*: http:\/\/127\.0\.0\.1:9\/hook: timed out after 3 tries/)).toBeTruthy();
  });

  it('says so when the server has no rules (no alerts engine)', async () => {
    await openAlerts(alertsPart([], { rules: [] }));
    expect(screen.getByText('None: this server evaluates no alert rules.')).toBeTruthy();
    expect(screen.queryAllByRole('form')).toEqual([]);
  });

  it('says so when the server sends no alerts part', async () => {
    await openAlerts(null);
    expect(screen.getByText(/This server sends no alerts/)).toBeTruthy();
  });
});

describe('rule settings', () => {
  const form = (name: string) => screen.getByRole('form', { name: new RegExp(`^${name}`) });

  it('an operator saves a rule: the form sends the rule, its switch and settings, and shows the server\'s answer', async () => {
    const app = await openAlerts(alertsPart());
    const rate = form('Failure rate');
    fireEvent.change(within(rate).getByRole('textbox', { name: 'Failed (%)' }), { target: { value: ' 35 ' } });
    fireEvent.click(within(rate).getByRole('checkbox', { name: 'Enabled' }));
    fireEvent.click(within(rate).getByRole('button', { name: 'Save' }));
    const sent = app.sent('set_alert_rule');
    expect(sent.args).toEqual({ rule: 'failure_rate', enabled: false, params: { percent: 35, min_jobs: 10, minutes: 5 } });
    expect((within(rate).getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    const rule = { ...alertRules()[3]!, enabled: false, params: { percent: 35, min_jobs: 10, minutes: 5 } };
    await act(async () => sent.resolve({ rule }));
    expect(within(rate).getByRole('status').textContent).toBe('Saved. The server now has off; percent 35, min jobs 10, minutes 5.');
  });

  it('shows the server\'s refusal and keeps what the user typed', async () => {
    const app = await openAlerts(alertsPart());
    const rate = form('Failure rate');
    const percent = within(rate).getByRole('textbox', { name: 'Failed (%)' }) as HTMLInputElement;
    fireEvent.change(percent, { target: { value: '300' } });
    fireEvent.click(within(rate).getByRole('button', { name: 'Save' }));
    await act(async () => app.sent('set_alert_rule').fail('invalid', 'params.percent: must be from 0.1 to 100'));
    expect(within(rate).getByRole('alert').textContent).toBe('Not saved: params.percent: must be from 0.1 to 100');
    expect(percent.value).toBe('300');
  });

  it('refuses what is not a number before asking the server', async () => {
    const app = await openAlerts(alertsPart());
    const stalled = form('A queue not draining');
    fireEvent.change(within(stalled).getByRole('textbox', { name: 'After (seconds)' }), { target: { value: 'soon' } });
    fireEvent.click(within(stalled).getByRole('button', { name: 'Save' }));
    expect(app.commands.filter((c) => c.name === 'set_alert_rule')).toEqual([]);
    expect(within(stalled).getByRole('alert').textContent).toBe('After (seconds): a number is needed');
  });

  it('a cluster\'s own settings: changed, removed, and added for another cluster', async () => {
    const app = await openAlerts(alertsPart());
    const beta = form('A job running long, cluster beta');
    expect((within(beta).getByRole('checkbox', { name: 'Terminate the job' }) as HTMLInputElement).checked).toBe(true);
    fireEvent.change(within(beta).getByRole('textbox', { name: 'After (seconds)' }), { target: { value: '90' } });
    fireEvent.click(within(beta).getByRole('button', { name: 'Save' }));
    expect(app.sent('set_alert_rule').args).toEqual({ rule: 'long_job', cluster: 'beta', params: { seconds: 90, terminate: true } });
    await act(async () => app.sent('set_alert_rule').resolve({ rule: { ...alertRules()[4]!, clusters: { beta: { seconds: 90, terminate: true } } } }));
    expect(within(beta).getByRole('status').textContent).toBe('Saved. The server now has for cluster beta: seconds 90, terminate yes.');

    fireEvent.click(within(beta).getByRole('button', { name: 'Remove' }));
    expect(app.commands.at(-1)!.args).toEqual({ rule: 'long_job', cluster: 'beta', params: {} });
    await act(async () => app.commands.at(-1)!.resolve({ rule: { ...alertRules()[4]!, clusters: {} } }));

    // only clusters without settings of their own are offered
    const longJob = screen.getByRole('form', { name: /^A job running long long_job/ }).parentElement!;
    const pick = within(longJob).getByRole('combobox', { name: 'Settings of their own for cluster' });
    expect(within(pick).getAllByRole('option').map((o) => o.textContent)).toEqual(['alpha']);
    fireEvent.click(within(longJob).getByRole('button', { name: 'Add' }));
    const alpha = form('A job running long, cluster alpha');
    fireEvent.change(within(alpha).getByRole('textbox', { name: 'After (seconds)' }), { target: { value: '60' } });
    fireEvent.click(within(alpha).getByRole('checkbox', { name: 'Terminate the job' }));
    fireEvent.click(within(alpha).getByRole('button', { name: 'Save' }));
    expect(app.commands.at(-1)!.args).toEqual({ rule: 'long_job', cluster: 'alpha', params: { seconds: 60, terminate: true } });
  });

  it('rules without settings offer only their switch, and no cluster settings', async () => {
    await openAlerts(alertsPart());
    const closed = form('A node closed');
    expect(within(closed).getAllByRole('checkbox').length).toBe(1);
    expect(within(closed).queryAllByRole('textbox')).toEqual([]);
    expect(within(closed.parentElement!).queryByRole('button', { name: 'Add' })).toBeNull();
  });

  it('a viewer sees the rules read-only', async () => {
    await openAlerts(alertsPart(), { hello: hello('viewer') });
    expect(screen.queryAllByRole('form')).toEqual([]);
    expect(screen.queryByRole('button', { name: 'Save' })).toBeNull();
    const rows = rowsOf('Rules');
    expect(rows).toHaveLength(alertRules().length);
    expect(rows[4]).toEqual(['A job running long long_job', 'yes', 'seconds 3600, terminate no', 'beta: seconds 60, terminate yes']);
  });
});

describe('notifications in this browser', () => {
  const section = () => screen.getByRole('region', { name: 'Notifications in this browser' });

  function stubNotification(permission: NotificationPermission, answer: NotificationPermission = permission) {
    const built: string[] = [];
    class FakeNotification {
      static permission = permission;
      static requestPermission = vi.fn(async () => {
        FakeNotification.permission = answer;
        return answer;
      });
      constructor(title: string) {
        built.push(title);
      }
    }
    vi.stubGlobal('Notification', FakeNotification);
    return { built, FakeNotification };
  }

  it('asks the permission, shows one at once, and keeps the choice in this browser', async () => {
    const { built, FakeNotification } = stubNotification('default', 'granted');
    await openAlerts(alertsPart());
    expect(within(section()).getByRole('status').textContent).toMatch(/^Off:/);
    await act(async () => fireEvent.click(within(section()).getByRole('button', { name: 'Turn on notifications' })));
    expect(FakeNotification.requestPermission).toHaveBeenCalledTimes(1);
    expect(built).toEqual(['dispymon: notifications on']);
    expect(localStorage.getItem('dispymon-notify')).toBe('on');
    expect(within(section()).getByRole('status').textContent).toMatch(/^On:/);
    fireEvent.click(within(section()).getByRole('button', { name: 'Turn off notifications' }));
    expect(localStorage.getItem('dispymon-notify')).toBeNull();
    expect(within(section()).getByRole('status').textContent).toMatch(/^Off:/);
  });

  it('says how to unblock them when the user or the browser said no', async () => {
    stubNotification('default', 'denied');
    await openAlerts(alertsPart());
    await act(async () => fireEvent.click(within(section()).getByRole('button', { name: 'Turn on notifications' })));
    expect(within(section()).getByRole('status').textContent).toMatch(/blocked for this site in the browser's settings/);
    expect(localStorage.getItem('dispymon-notify')).toBeNull();
    expect(within(section()).getByRole('button', { name: 'Check again' })).toBeTruthy();
  });

  it('says when the browser has no notifications for pages, and offers no button', async () => {
    vi.stubGlobal('Notification', undefined);
    await openAlerts(alertsPart());
    expect(within(section()).getByRole('status').textContent).toMatch(/^This browser offers web pages no notifications/);
    expect(within(section()).queryByRole('button')).toBeNull();
  });

  it('says when the browser refuses to build one (Chrome on Android), and leaves them off', async () => {
    class Refusing {
      static permission = 'granted';
      constructor() {
        throw new TypeError('Illegal constructor');
      }
    }
    vi.stubGlobal('Notification', Refusing);
    await openAlerts(alertsPart());
    await act(async () => fireEvent.click(within(section()).getByRole('button', { name: 'Turn on notifications' })));
    expect(within(section()).getByRole('alert').textContent).toMatch(/refused to show a notification/);
    expect(localStorage.getItem('dispymon-notify')).toBeNull();
  });
});
