// Shared set-up for tests of the virtualised tables.
import { afterAll, beforeAll } from 'vitest';
import type { Cluster } from '../core/protocol';
import { cluster, node } from './fixtures';

/**
 * jsdom lays nothing out: give the tables' scroll box a height so the
 * virtualiser has a window to fill (600 px ≈ 17 rows of 36 px). Call at the
 * top of a test file.
 */
export function fixScrollBoxHeight(): void {
  const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, 'clientHeight');
  beforeAll(() => {
    Object.defineProperty(Element.prototype, 'clientHeight', {
      configurable: true,
      get(this: Element) {
        return this.classList.contains('virtual-scroll') ? 600 : 0;
      },
    });
  });
  afterAll(() => {
    if (clientHeight) Object.defineProperty(Element.prototype, 'clientHeight', clientHeight);
  });
}

/** Distinct addresses for many nodes: 10.0.0.1 … 10.0.0.250, 10.0.1.1 … */
export const address = (i: number) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`;

/** A cluster "big" of `count` nodes, with varied busy and jobs-done figures. */
export function manyNodes(count: number): Cluster {
  return cluster(
    'big',
    Array.from({ length: count }, (_, i) => node(address(i), { busy: i % 7, jobs_done: (i * 37) % 1000 })),
  );
}
