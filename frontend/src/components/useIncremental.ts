// A memoised value computed from its previous one: the tables keep their
// order incrementally (rows stay in place across updates) instead of sorting
// everything on every delta.
import { useMemo, useRef } from 'react';
import type { DependencyList } from 'react';

/**
 * useMemo whose `compute` also gets the last value it returned (null the
 * first time). Dependencies are checked by ESLint's exhaustive-deps at each
 * call (eslint.config.js names this hook).
 */
export function useIncremental<T>(compute: (previous: T | null) => T, deps: DependencyList): T {
  const previous = useRef<T | null>(null);
  // The previous value is a cache for the next computation, never rendered
  // from (a render React discards leaves at worst a newer cache); the
  // dependency list is the caller's, checked at each call.
  // eslint-disable-next-line react-hooks/use-memo, react-hooks/exhaustive-deps
  return useMemo(() => (previous.current = compute(previous.current)), deps);
}
