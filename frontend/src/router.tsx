// A few lines of history-API routing instead of a router library (bundle
// budget). The server answers every unknown path with index.html.
import { useSyncExternalStore } from 'react';
import type { AnchorHTMLAttributes, MouseEvent } from 'react';

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

function notify(): void {
  for (const listener of listeners) listener();
}

export function navigate(to: string): void {
  if (to === location.pathname + location.search + location.hash) return;
  history.pushState(null, '', to);
  notify();
}

/**
 * Replaces the query string of the current history entry (no new entry, so
 * Back still leaves the page): view state such as a table's sort that should
 * survive a reload without cluttering the history.
 */
export function replaceSearch(params: URLSearchParams): void {
  const query = params.toString();
  const url = location.pathname + (query ? `?${query}` : '') + location.hash;
  if (url === location.pathname + location.search + location.hash) return;
  history.replaceState(history.state, '', url);
  notify();
}

export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => location.pathname, () => '/');
}

/** The current query string ("?a=b" or ""). */
export function useSearch(): string {
  return useSyncExternalStore(subscribe, () => location.search, () => '');
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

/** An ordinary link (open in new tab etc. still work) that navigates in-app on a plain click. */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const pathname = usePathname();
  const handleClick = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (rest.target && rest.target !== '_self') return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} aria-current={pathname === to ? 'page' : undefined} onClick={handleClick} {...rest} />;
}
