// @vitest-environment jsdom
import { act, cleanup, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alert, AlertsPart } from '../core/protocol';
import { alert, alertsPart } from '../test/fixtures';
import { renderApp } from '../test/renderApp';
import { NOTIFY_AT_ONCE, newlyFiring } from './AlertBanner';

/** A stand-in for the browser's Notification: records what the page built. */
function fakeNotifications(permission: NotificationPermission) {
  const built: { title: string; body: string | undefined; tag: string | undefined }[] = [];
  class FakeNotification {
    static permission = permission;
    static requestPermission = vi.fn(async () => FakeNotification.permission);
    onclick: (() => void) | null = null;
    constructor(title: string, options: NotificationOptions = {}) {
      built.push({ title, body: options.body, tag: options.tag });
    }
    close() {}
  }
  vi.stubGlobal('Notification', FakeNotification);
  return { built, FakeNotification };
}

const banner = () => screen.getByRole('status', { name: 'Alerts' });

/** The app with the given alerts already firing when the page loaded (its first snapshot). */
async function openWith(part: AlertsPart) {
  const app = renderApp({ alerts: part });
  await screen.findByRole('status', { name: 'Alerts' }, { timeout: 5000 });
  return app;
}

let seq = 1;
function fire(app: ReturnType<typeof renderApp>, firing: Alert[]) {
  act(() => {
    expect(app.store.getState().receiveDelta({ type: 'delta', seq: ++seq, alerts: alertsPart(firing) })).toBe('applied');
  });
}

beforeEach(() => {
  seq = 1;
  localStorage.clear();
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  history.replaceState(null, '', '/');
});

describe('the alerts banner', () => {
  it('is an empty status region while nothing fires, on every page', async () => {
    await openWith(alertsPart());
    expect(banner().textContent).toBe('');
    expect(screen.queryByRole('link', { name: /alerts? firing/ })).toBeNull();
  });

  it('says how many fire and links to the Alerts page; one alert also says what', async () => {
    const app = await openWith(alertsPart([alert(1, { summary: 'node 127.0.0.3 closed (cluster alpha)' })]));
    expect(banner().textContent).toBe('1 alert firing: node 127.0.0.3 closed (cluster alpha)');
    expect(screen.getByRole('link', { name: '1 alert firing' }).getAttribute('href')).toBe('/alerts');
    fire(app, [alert(1), alert(2, { severity: 'warning' })]);
    expect(banner().textContent).toBe('2 alerts firing');
    fire(app, []);
    expect(banner().textContent).toBe('');
  });

  it('counts the alerts the server did not list (past 500)', async () => {
    await openWith(alertsPart([alert(1)], { firing_total: 734 }));
    expect(banner().textContent).toBe('734 alerts firing');
  });

  it('marks critical alerts in red and warnings in the warning colour (the text says the same for all)', async () => {
    const app = await openWith(alertsPart([alert(1, { severity: 'warning' })]));
    expect(banner().style.borderLeft).toContain('--warn');
    fire(app, [alert(1, { severity: 'warning' }), alert(2, { severity: 'critical' })]);
    expect(banner().style.borderLeft).toContain('--error');
  });
});

describe('notifications', () => {
  it('shows one for each alert that starts firing after the page loaded, none for those firing at load', async () => {
    localStorage.setItem('dispymon-notify', 'on');
    const { built } = fakeNotifications('granted');
    const app = await openWith(alertsPart([alert(1)]));
    expect(built).toEqual([]);
    fire(app, [alert(1), alert(2, { summary: 'node 127.0.0.4 stale: no pulse for 31 s', severity: 'warning', cluster: 'beta', rule: 'node_stale' })]);
    expect(built).toEqual([{ title: 'dispymon: node 127.0.0.4 stale: no pulse for 31 s', body: 'warning, cluster beta (node_stale)', tag: `dispymon-alert-2-${alert(2).started}` }]);
    // a resolving and an alert still firing are no news
    fire(app, [alert(2)]);
    expect(built).toHaveLength(1);
  });

  it('shows a few one by one and one more for the rest when many start at once', async () => {
    localStorage.setItem('dispymon-notify', 'on');
    const { built } = fakeNotifications('granted');
    const app = await openWith(alertsPart());
    const many = [3, 4, 5, 6, 7, 8].map((id) => alert(id, { summary: `alert ${id}` }));
    fire(app, many);
    expect(built.map((n) => n.title)).toEqual([
      ...many.slice(0, NOTIFY_AT_ONCE).map((a) => `dispymon: ${a.summary}`),
      `dispymon: ${many.length - NOTIFY_AT_ONCE} more alerts firing`,
    ]);
  });

  it('shows none unless this browser opted in, or while the permission is not granted', async () => {
    const { built, FakeNotification } = fakeNotifications('granted');
    const app = await openWith(alertsPart());
    fire(app, [alert(1)]);
    expect(built).toEqual([]); // not opted in
    localStorage.setItem('dispymon-notify', 'on');
    FakeNotification.permission = 'denied';
    fire(app, [alert(1), alert(2)]);
    expect(built).toEqual([]);
    FakeNotification.permission = 'granted';
    fire(app, [alert(1), alert(2), alert(3)]);
    expect(built.map((n) => n.title)).toEqual([`dispymon: ${alert(3).summary}`]);
  });

  it('survives a browser without the API, or one that refuses to build a notification', async () => {
    localStorage.setItem('dispymon-notify', 'on');
    vi.stubGlobal('Notification', undefined);
    const app = await openWith(alertsPart());
    fire(app, [alert(1)]);
    expect(banner().textContent).toContain('1 alert firing');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    class Refusing {
      static permission = 'granted';
      constructor() {
        throw new TypeError('Illegal constructor');
      }
    }
    vi.stubGlobal('Notification', Refusing);
    fire(app, [alert(1), alert(2)]);
    fire(app, [alert(1), alert(2), alert(3)]);
    expect(banner().textContent).toBe('3 alerts firing');
    expect(warn).toHaveBeenCalledTimes(1); // said once, not per alert
    warn.mockRestore();
  });
});

describe('newlyFiring', () => {
  it('takes the first list as what fired at load, then names what is new', () => {
    const first = newlyFiring(null, [alert(1), alert(2)]);
    expect(first.fresh).toEqual([]);
    const next = newlyFiring(first.seen, [alert(2), alert(3)]);
    expect(next.fresh).toEqual([alert(3)]);
    expect(newlyFiring(next.seen, [alert(2), alert(3)]).fresh).toEqual([]);
  });

  it('tells a restarted server\'s alert 1 from the old alert 1 by its start', () => {
    const first = newlyFiring(null, [alert(1)]);
    const again = alert(1, { started: alert(1).started + 600 });
    expect(newlyFiring(first.seen, [again]).fresh).toEqual([again]);
  });
});
