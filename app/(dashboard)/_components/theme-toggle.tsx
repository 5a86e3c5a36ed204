'use client';

import { useEffect, useState } from 'react';
import { THEME_COOKIE, type ThemeChoice } from '@/lib/presenters/theme';

const NEXT: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };
const LABEL: Record<ThemeChoice, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };
const ICON: Record<ThemeChoice, string> = { system: '◐', light: '☀', dark: '☾' };

/**
 * Cycles system → light → dark. The choice lives in a cookie, so the server renders the right theme
 * on the first byte (no flash); "system" removes the attribute and CSS follows prefers-color-scheme.
 */
export function ThemeToggle({ initial }: { initial: ThemeChoice }) {
  const [choice, setChoice] = useState<ThemeChoice>(initial);
  useEffect(() => {
    const root = document.documentElement;
    if (choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = choice;
    document.cookie = `${THEME_COOKIE}=${choice}; path=/; max-age=${400 * 24 * 3600}; samesite=lax`;
  }, [choice]);
  return (
    <button
      type="button"
      className="btn btn-ghost btn-sm theme-toggle"
      data-theme-choice={choice}
      aria-label={`${LABEL[choice]} (click to change)`}
      title={LABEL[choice]}
      onClick={() => setChoice(NEXT[choice])}
    >
      <span aria-hidden="true">{ICON[choice]}</span>
      <span className="theme-label">{choice}</span>
    </button>
  );
}
