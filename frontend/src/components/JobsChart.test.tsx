// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Series } from '../core/protocol';
import { cluster, node } from '../test/fixtures';
import { renderApp } from '../test/renderApp';
import { refreshPeriodMs } from './JobsChart';
import { chartLabel, perMinute } from './jobsSeries';

// jsdom has no canvas: the uPlot drawing is replaced; what is tested is what
// assistive technology gets (the label and the table).
vi.mock('./SeriesPlot', () => ({ default: () => null }));

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  history.replaceState(null, '', '/');
});

function series(done: number[], busy: number[], end = 1_700_000_000): Series {
  return { step: 1, end, done, busy };
}

describe('jobs chart label', () => {
  it('says there is no data yet before the first answer', () => {
    expect(chartLabel(null)).toBe('Jobs done per second and busy CPUs, last 10 minutes: no data yet');
    expect(chartLabel(series([], []))).toContain('no data yet');
  });

  it('gives the last complete second, the total and the latest busy CPUs', () => {
    // the current (last) second is still filling: the one before is the latest
    expect(chartLabel(series([1, 2, 3, 0], [4, 4, 3.5, 2.25]))).toBe(
      'Jobs done per second, last 10 minutes: latest 3 (6 in all); busy CPUs: latest 2.3',
    );
  });

  it('sums the text alternative per minute', () => {
    // 70 seconds: the first minute's last 10 s and the next minute's first 60
    const end = 6000 + 59;
    const rows = perMinute(series(Array(70).fill(1), Array(70).fill(2), end));
    expect(rows).toEqual([
      { start: 5940, done: 10, busy: 2 },
      { start: 6000, done: 60, busy: 2 },
    ]);
  });
});

describe('JobsChart on the pages', () => {
  it('fetches the series on mount for the Monitor page and refreshes it at the update interval', async () => {
    vi.useFakeTimers();
    const { commands } = renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) } });
    const asked = () => commands.filter((c) => c.name === 'series');
    expect(asked()).toHaveLength(1);
    expect(asked()[0]!.args).toEqual({ cluster: 'alpha' });
    await act(async () => asked()[0]!.resolve(series([0, 5, 1], [1, 2, 3])));
    const chart = screen.getByRole('img', { name: /^Jobs done per second/ });
    expect(chart.getAttribute('aria-label')).toBe('Jobs done per second, last 10 minutes: latest 5 (6 in all); busy CPUs: latest 3');
    expect(screen.getByRole('table', { name: /per minute/ })).toBeTruthy();

    // the page's interval is 10 s (renderApp): not sooner
    await act(async () => vi.advanceTimersByTime(9999));
    expect(asked()).toHaveLength(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(asked()).toHaveLength(2);
    await act(async () => asked()[1]!.resolve(series([5, 1, 7, 0], [3, 4, 4, 4])));
    expect(chart.getAttribute('aria-label')).toBe('Jobs done per second, last 10 minutes: latest 7 (13 in all); busy CPUs: latest 4');
  });

  it('asks nothing while updates are stopped, and refreshes on Update', async () => {
    vi.useFakeTimers();
    const { commands } = renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) }, interval: 10 });
    const asked = () => commands.filter((c) => c.name === 'series');
    expect(asked()).toHaveLength(1);
    fireEvent.change(screen.getByRole('spinbutton', { name: 'Update interval (seconds)' }), { target: { value: '0' } });
    await act(async () => vi.advanceTimersByTime(120_000));
    expect(asked()).toHaveLength(1); // stopping asks nothing either
    fireEvent.click(screen.getByRole('button', { name: 'Update' }));
    expect(asked()).toHaveLength(2);
    expect(asked()[1]!.args).toEqual({ cluster: 'alpha' });
    await act(async () => vi.advanceTimersByTime(120_000));
    expect(asked()).toHaveLength(2);
    // a new interval takes effect at once: 30 s
    fireEvent.change(screen.getByRole('spinbutton', { name: 'Update interval (seconds)' }), { target: { value: '30' } });
    await act(async () => vi.advanceTimersByTime(29_999));
    expect(asked()).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(1));
    expect(asked()).toHaveLength(3);
  });

  it('refreshes no faster than its data changes', () => {
    expect(refreshPeriodMs(0.05, 1)).toBe(1000);
    expect(refreshPeriodMs(2.5, 1)).toBe(2500);
    expect(refreshPeriodMs(10, 60)).toBe(30_000);
    expect(refreshPeriodMs(0, 1)).toBeNull();
    expect(refreshPeriodMs(-1, 60)).toBeNull();
  });

  it('asks for every cluster under "* Combined", and shows a failure as an alert', async () => {
    const { commands } = renderApp({ clusters: { alpha: cluster('alpha'), beta: cluster('beta') } });
    const first = commands.find((c) => c.name === 'series')!;
    expect(first.args).toEqual({});
    await act(async () => first.fail('timeout', 'no answer'));
    expect(screen.getByRole('alert').textContent).toContain('no answer');
  });

  it('shows the kept minutes when asked: step 60, per-minute words, an hourly text table', async () => {
    const { commands } = renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) } });
    const asked = () => commands.filter((c) => c.name === 'series');
    await act(async () => asked()[0]!.resolve(series([0, 5, 1], [1, 2, 3])));
    fireEvent.change(screen.getByRole('combobox', { name: 'Range' }), { target: { value: 'minutes' } });
    await waitFor(() => expect(asked()).toHaveLength(2));
    expect(asked()[1]!.args).toEqual({ cluster: 'alpha', step: 60 });
    // the per-second answer is not drawn with the per-minute words meanwhile
    const chart = screen.getByRole('img', { name: 'Jobs done per minute and busy CPUs, last 24 hours: no data yet' });
    // 120 minutes: the last hour and the one before; 7 jobs in the minute before the current one
    const done = Array(120).fill(0);
    done[118] = 7;
    done[10] = 3;
    await act(async () => asked()[1]!.resolve({ step: 60, end: 7200 * 100 + 60 * 119, done, busy: Array(120).fill(1) }));
    expect(chart.getAttribute('aria-label')).toBe('Jobs done per minute, last 24 hours: latest 7 (10 in all); busy CPUs: latest 1');
    expect(screen.getByRole('heading', { level: 3, name: 'Activity, last 24 hours' })).toBeTruthy();
    const table = screen.getByRole('table', { name: /per hour, last 24 hours/ });
    expect(within(table).getAllByRole('row').slice(1).map((r) => within(r).getAllByRole('cell')[1]!.textContent)).toEqual(['3', '7']);
  });

  it('asks for the node on the Node page', async () => {
    history.replaceState(null, '', '/node/127.0.0.2');
    const { commands } = renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) } });
    await screen.findByRole('heading', { level: 2, name: 'Node 127.0.0.2' }, { timeout: 5000 });
    // the request is sent from an effect, which may run after the heading is painted
    await waitFor(() => {
      const asked = commands.filter((c) => c.name === 'series');
      expect(asked.map((c) => c.args)).toEqual([{ cluster: 'alpha', node: '127.0.0.2' }]);
    });
  });
});
