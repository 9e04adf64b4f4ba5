import { useState } from 'react';
import { applyTheme, nextTheme, readTheme } from '../lib/theme';
import type { Theme } from '../lib/theme';
import '../theme.css';

/** Cycles system → light → dark; the name says the current choice (what a screen reader announces). */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(readTheme);
  const label = `Theme: ${theme}`;
  return (
    <button
      type="button"
      className="theme-toggle"
      aria-label={label}
      title={`${label} (click to change)`}
      onClick={() => {
        const next = nextTheme(theme);
        applyTheme(next);
        setTheme(next);
      }}
    >
      {label}
    </button>
  );
}
