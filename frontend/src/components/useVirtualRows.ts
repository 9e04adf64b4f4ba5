// Loads the virtualised table body (VirtualRows, with @tanstack/react-virtual)
// the first time a table needs it: a small cluster's Monitor page never
// downloads it.
import { useEffect, useState } from 'react';
import type { ComponentType } from 'react';
import type { VirtualRowsProps } from './VirtualRows';

type VirtualRowsComponent = ComponentType<VirtualRowsProps>;

let loaded: VirtualRowsComponent | null = null;
let loading: Promise<VirtualRowsComponent> | null = null;

function load(): Promise<VirtualRowsComponent> {
  loading ??= import('./VirtualRows').then(
    (module) => (loaded = module.default),
    (err: unknown) => {
      loading = null; // the next table that needs it tries again
      throw err;
    },
  );
  return loading;
}

/**
 * VirtualRows once `needed` asked for it and it loaded; null until then (the
 * caller shows its first rows plainly meanwhile). Not React.lazy: React holds
 * back revealing a Suspense boundary's content for 300 ms after its fallback
 * showed (measured: a 10,000-node table stayed cut to its first rows ~370 ms
 * after its first paint, against ~10 ms to fetch the module), and a failed
 * load would need an error boundary instead of leaving the first rows shown.
 */
export function useVirtualRows(needed: boolean): VirtualRowsComponent | null {
  const [component, setComponent] = useState<VirtualRowsComponent | null>(() => loaded);
  // The fetch starts now, while this render goes on, not in the effect below
  // (which runs once the first rows are painted); load() fetches only once.
  // A failure is reported by the effect.
  if (needed && loaded === null) load().catch(() => {});
  useEffect(() => {
    if (!needed || component !== null) return;
    let current = true;
    load().then(
      (c) => current && setComponent(() => c),
      (err: unknown) => console.error('dispymon: the table module did not load:', err),
    );
    return () => {
      current = false;
    };
  }, [needed, component]);
  return component;
}
