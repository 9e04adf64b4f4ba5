// One shared one-second clock for live "elapsed" cells: a single timer however
// many cells show it, running only while some cell is on screen.
import { useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
let now = Date.now() / 1000;
let timer: ReturnType<typeof setInterval> | null = null;

function tick(): void {
  now = Date.now() / 1000;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (timer === null) {
    now = Date.now() / 1000;
    timer = setInterval(tick, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** Unix seconds, updated every second while the component is mounted. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}
