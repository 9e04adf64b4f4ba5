// @vitest-environment jsdom
// The virtualised body of the nodes table is a module of its own, fetched the
// first time a table exceeds FULL_TABLE_ROWS (its own file: a module loads
// once per test file).
import { cleanup, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderApp } from '../../test/renderApp';
import { address, manyNodes, fixScrollBoxHeight } from '../../test/virtualTable';
import { FULL_TABLE_ROWS, LOADING_ROWS } from './NodesTable';

const loads = vi.hoisted(() => vi.fn());
vi.mock('../../components/VirtualRows', async (importOriginal) => {
  loads();
  return importOriginal();
});

fixScrollBoxHeight();
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const table = () => screen.getByRole('table', { name: 'Nodes' });
const bodyRows = () => within(table()).getAllByRole('row').slice(1);
const spacers = () => table().querySelectorAll('tbody tr.spacer[aria-hidden="true"]');

describe('the nodes table loads its virtualiser lazily', () => {
  it('does not fetch it for a table of FULL_TABLE_ROWS nodes', async () => {
    renderApp({ clusters: { big: manyNodes(FULL_TABLE_ROWS) } });
    expect(bodyRows()).toHaveLength(FULL_TABLE_ROWS);
    // let any import that was started settle before looking
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(loads).not.toHaveBeenCalled();
  });

  it('shows the first rows plainly while it loads, then only the rows in view', async () => {
    renderApp({ clusters: { big: manyNodes(150) } });
    // at once: the first rows in order (IP descending), never an empty table
    const first = bodyRows();
    expect(first).toHaveLength(LOADING_ROWS);
    expect(first.map((r) => r.getAttribute('aria-rowindex'))).toEqual(
      Array.from({ length: LOADING_ROWS }, (_, i) => String(i + 2)),
    );
    expect(within(first[0]!).getAllByRole('cell')[0]?.textContent).toBe(address(149));
    expect(table().getAttribute('aria-rowcount')).toBe('151');
    expect(spacers()).toHaveLength(0);

    // loaded: a spacer stands in for the rows below the window
    await waitFor(() => expect(spacers().length).toBeGreaterThan(0), { timeout: 5000 });
    expect(loads).toHaveBeenCalledTimes(1);
    const rows = bodyRows();
    expect(rows.length).toBeLessThan(LOADING_ROWS);
    expect(rows[0]?.getAttribute('aria-rowindex')).toBe('2');
    expect(within(rows[0]!).getAllByRole('cell')[0]?.textContent).toBe(address(149));
    expect(table().getAttribute('aria-rowcount')).toBe('151');
  });
});
