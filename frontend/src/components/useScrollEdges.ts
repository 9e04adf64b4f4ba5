import { useEffect, useState } from 'react';

export interface ScrollEdges {
  /** columns hidden to the left (scrolled) */
  left: boolean;
  /** columns hidden to the right */
  right: boolean;
}

const NONE: ScrollEdges = { left: false, right: false };

/**
 * Whether a sideways-scrolling box hides content to either side, kept up to
 * date on scrolling and on any change of its or its content's size, so the
 * page can show that the table goes on (a scrollbar alone is hidden until
 * scrolled in many browsers, and a table cut at a column edge looks whole).
 */
export function useScrollEdges(box: HTMLElement | null): ScrollEdges {
  const [edges, setEdges] = useState<ScrollEdges>(NONE);
  useEffect(() => {
    if (!box) return;
    const measure = () => {
      // a pixel of slack: fractional widths round either way
      const left = box.scrollLeft > 1;
      const right = box.scrollLeft + box.clientWidth < box.scrollWidth - 1;
      setEdges((e) => (e.left === left && e.right === right ? e : { left, right }));
    };
    box.addEventListener('scroll', measure, { passive: true });
    // no layout to follow without it (jsdom)
    const resized = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(measure);
    // A ResizeObserver reports each box once it is laid out, so the first
    // measure comes with the page's own layout. Measured here instead, it
    // forced that layout while the page was still being built (a phone at 4×
    // CPU: ~250 ms, before the table's first paint).
    if (!resized) measure();
    resized?.observe(box);
    for (const child of box.children) resized?.observe(child);
    return () => {
      box.removeEventListener('scroll', measure);
      resized?.disconnect();
    };
  }, [box]);
  return edges;
}
