// The body rows of a long table with fixed-height rows: those in view and a
// few either side, spacer rows standing in for the rest. A module of its own
// (the default export, for React.lazy): the Monitor page loads it, and
// @tanstack/react-virtual with it, only when the nodes table grows beyond
// FULL_TABLE_ROWS; a small cluster's browser never downloads it.
import type { ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';

export interface VirtualRowsProps {
  /** rows in the whole table */
  count: number;
  /**
   * The box that scrolls the table: an element, not a ref object, so this
   * re-renders once it is there (a parent's ref is set only after the
   * children's layout effects, where the virtualiser looks for it).
   */
  scrollElement: HTMLElement | null;
  /** px, fixed: matches the table's CSS */
  rowHeight: number;
  /** columns a spacer row spans */
  columns: number;
  /** the `<tr>` of row `index` (0-based), with a stable React key */
  row(index: number): ReactNode;
}

export default function VirtualRows({ count, scrollElement, rowHeight, columns, row }: VirtualRowsProps) {
  // TanStack Virtual returns new functions each render, which React Compiler cannot memoise; this app is not compiled.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollElement,
    estimateSize: () => rowHeight,
    overscan: 10,
    // No getItemKey: the virtualiser's item keys only index sizes it
    // measured (none here: rows are fixed), and a key function made anew on
    // each render has it lay out all 100,000 rows again on every render,
    // scrolling included. Rows keep their DOM nodes by their React keys.
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  return (
    <>
      {padTop > 0 && (
        <tr aria-hidden="true" className="spacer">
          <td colSpan={columns} style={{ height: padTop }} />
        </tr>
      )}
      {items.map((item) => row(item.index))}
      {padBottom > 0 && (
        <tr aria-hidden="true" className="spacer">
          <td colSpan={columns} style={{ height: padBottom }} />
        </tr>
      )}
    </>
  );
}
