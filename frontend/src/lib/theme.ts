// The colour theme: the system's (prefers-color-scheme) unless the user chose
// light or dark with the header's toggle. The choice is kept in localStorage
// and applied as data-theme on <html>, which theme.css keys its variables on.

export type Theme = 'system' | 'light' | 'dark';

const KEY = 'dispymon-theme';
const ORDER: readonly Theme[] = ['system', 'light', 'dark'];

/** The stored choice; 'system' when none, unreadable (private mode) or unknown. */
export function readTheme(): Theme {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

/** Applies and stores a choice; 'system' removes both, so the media query decides again. */
export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === 'system') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', theme);
  try {
    if (theme === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // storage refused (private mode, quota): the choice lasts for this page only
  }
  // charts draw on canvas with colours read from CSS: tell them to redraw
  window.dispatchEvent(new Event(THEME_EVENT));
}

export const THEME_EVENT = 'dispymon-theme';

export function nextTheme(theme: Theme): Theme {
  return ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length] ?? 'system';
}
