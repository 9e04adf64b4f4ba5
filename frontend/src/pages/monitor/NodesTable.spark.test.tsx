// @vitest-environment jsdom
import { act, cleanup, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ResourceSparks } from '../../core/protocol';
import { cluster, node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';
import { address, fixScrollBoxHeight, manyNodes } from '../../test/virtualTable';
import { SPARK_MAX_NODES } from './NodesTable';
import { SPARK_REFRESH_MS } from '../../components/Sparkline';

fixScrollBoxHeight();
afterEach(() => {
  cleanup();
  vi.useRealTimers();
  history.replaceState(null, '', '/');
});

const sparkCells = () => [...document.querySelectorAll('tbody td:last-child')];

function sparks(nodes: ResourceSparks['nodes']): ResourceSparks {
  return { span: '10m', step: 10, end: 1_700_000_000, nodes };
}

describe('the nodes table CPU sparkline column', () => {
  it('asks for every node in the table once and draws each row its line', async () => {
    const { commands } = renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2'), node('127.0.0.3')]) } });
    const asked = () => commands.filter((c) => c.name === 'node_resources');
    // the column's module loads once it is on, then asks
    await waitFor(() => expect(asked()).toHaveLength(1), { timeout: 5000 });
    expect(asked()[0]!.args).toEqual({ nodes: ['127.0.0.2', '127.0.0.3'], span: '10m' });
    const table = screen.getByRole('table', { name: 'Nodes' });
    expect(within(table).getByRole('columnheader', { name: 'CPU free, 10 min' })).toBeTruthy();
    await act(async () => asked()[0]!.resolve(sparks({ '127.0.0.2': [null, 50, 70], '127.0.0.3': null })));
    const line = await within(table).findByRole('img', { name: 'CPU free, last 10 minutes: latest 70 %, lowest 50 %, highest 70 %' }, { timeout: 5000 });
    expect(line.querySelectorAll('polyline')).toHaveLength(1);
    expect(within(table).getByRole('img', { name: 'CPU free, last 10 minutes: no pulses' })).toBeTruthy();
    // in its node's row (the default order is by address, descending)
    expect(sparkCells()[1]!.contains(line)).toBe(true);
  });

  it('asks again every 10 s (its buckets), not at each update', async () => {
    const { commands, store } = renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) } });
    const asked = () => commands.filter((c) => c.name === 'node_resources');
    await waitFor(() => expect(asked()).toHaveLength(1), { timeout: 5000 });
    vi.useFakeTimers();
    // a new interval (2 s): asked again now, then every 10 s, not every 2 s
    act(() => store.getState().chooseInterval(2));
    expect(asked()).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(SPARK_REFRESH_MS - 1));
    expect(asked()).toHaveLength(2);
    await act(async () => vi.advanceTimersByTime(1));
    expect(asked()).toHaveLength(3);
  });

  it('is off above 300 nodes, says so in its header and asks nothing', async () => {
    const { commands } = renderApp({ clusters: { big: manyNodes(SPARK_MAX_NODES + 1) } });
    await waitFor(() => expect(document.querySelector('tbody tr.spacer')).not.toBeNull(), { timeout: 5000 });
    const header = screen.getByRole('columnheader', { name: /^CPU free, 10 min/ });
    expect(header.textContent).toBe('CPU free, 10 min (off above 300 nodes)');
    expect(commands.filter((c) => c.name === 'node_resources')).toHaveLength(0);
    expect(document.querySelectorAll('svg.sparkline')).toHaveLength(0);
  });

  it('at 300 nodes draws only the rows in view (the table is virtualised)', async () => {
    const { commands } = renderApp({ clusters: { big: manyNodes(SPARK_MAX_NODES) } });
    await waitFor(() => expect(document.querySelector('tbody tr.spacer')).not.toBeNull(), { timeout: 5000 });
    await waitFor(() => expect(commands.filter((c) => c.name === 'node_resources')).toHaveLength(1), { timeout: 5000 });
    const asked = commands.filter((c) => c.name === 'node_resources');
    expect((asked[0]!.args.nodes as string[]).length).toBe(SPARK_MAX_NODES);
    const all = Object.fromEntries(Array.from({ length: SPARK_MAX_NODES }, (_, i) => [address(i), [10, 20]]));
    await act(async () => asked[0]!.resolve(sparks(all)));
    await waitFor(() => expect(document.querySelectorAll('svg.sparkline').length).toBeGreaterThan(0), { timeout: 5000 });
    const drawn = document.querySelectorAll('svg.sparkline').length;
    expect(drawn).toBeGreaterThan(0);
    expect(drawn).toBeLessThan(60);
  });
});
