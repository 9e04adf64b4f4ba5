// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { compareIp } from '../../lib/ipOrder';
import { node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';
import { address, manyNodes, fixScrollBoxHeight } from '../../test/virtualTable';
import { FULL_TABLE_ROWS, sortNodes } from './NodesTable';

fixScrollBoxHeight();
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});


const bodyRows = () => within(screen.getByRole('table', { name: 'Nodes' })).getAllByRole('row').slice(1);

/** Until the virtualiser's module loads, the table shows its first rows plainly; then a spacer row stands in for the rest. */
async function virtualised() {
  await waitFor(() => expect(document.querySelector('tbody tr.spacer')).not.toBeNull(), { timeout: 5000 });
}

describe('Nodes table at scale', () => {
  it('renders every row up to FULL_TABLE_ROWS nodes', () => {
    renderApp({ clusters: { big: manyNodes(FULL_TABLE_ROWS) } });
    expect(bodyRows()).toHaveLength(FULL_TABLE_ROWS);
    expect(screen.getByRole('table', { name: 'Nodes' }).getAttribute('aria-rowcount')).toBe(String(FULL_TABLE_ROWS + 1));
  });

  it('keeps only the rows in view in the DOM above it, announcing the full count', async () => {
    renderApp({ clusters: { big: manyNodes(5000) } });
    await virtualised();
    const table = screen.getByRole('table', { name: 'Nodes' });
    expect(table.getAttribute('aria-rowcount')).toBe('5001');
    const rows = bodyRows();
    expect(rows.length).toBeLessThan(40);
    // default order (IP descending): the first rows are the highest addresses, with their positions
    const first = rows[0]!;
    expect(within(first).getAllByRole('cell')[0]?.textContent).toBe(address(4999));
    expect(first.getAttribute('aria-rowindex')).toBe('2');
  });

  it('sorts a large table on a header click, and follows deltas', async () => {
    const { store } = renderApp({ clusters: { big: manyNodes(2000) } });
    await virtualised();
    fireEvent.click(screen.getByRole('button', { name: 'Busy' }));
    const busy = () => bodyRows().map((r) => Number(within(r).getAllByRole('cell')[3]?.textContent));
    expect(busy().every((b) => b === 0)).toBe(true);
    // a delta making one node the busiest moves it to the top once sorted descending
    fireEvent.click(screen.getByRole('button', { name: 'Busy' }));
    act(() => {
      const state = store.getState();
      store.getState().receiveDelta({
        type: 'delta',
        seq: (state.seq ?? 0) + 1,
        clusters: { big: { nodes: { [address(1234)]: node(address(1234), { busy: 99 }) } } },
      });
    });
    expect(within(bodyRows()[0]!).getAllByRole('cell')[0]?.textContent).toBe(address(1234));
  });
});

describe('sortNodes', () => {
  it('orders addresses as compareIp does, whatever the mix', () => {
    const ips = ['127.0.0.10', 'host-b', '10.0.0.2', '127.0.0.9', '::1', '300.1.1.1', '9.255.255.255', 'host-a'];
    const nodes = ips.map((ip) => node(ip));
    const asc = sortNodes(nodes, { column: 'ip_addr', desc: false }).map((n) => n.ip_addr);
    expect(asc).toEqual([...ips].sort(compareIp));
    const desc = sortNodes(nodes, { column: 'ip_addr', desc: true }).map((n) => n.ip_addr);
    expect(desc).toEqual([...ips].sort(compareIp).reverse());
  });

  it('breaks ties by address, ascending in both directions', () => {
    const nodes = [node('10.0.0.3', { busy: 1 }), node('10.0.0.1', { busy: 1 }), node('10.0.0.2', { busy: 2 })];
    expect(sortNodes(nodes, { column: 'busy', desc: true }).map((n) => n.ip_addr)).toEqual(['10.0.0.2', '10.0.0.1', '10.0.0.3']);
  });
});
