// Shared by the root layout (server) and the theme toggle (browser).
export const THEME_COOKIE = 'cronplane-theme';
export type ThemeChoice = 'system' | 'light' | 'dark';

export function parseTheme(value: string | undefined): ThemeChoice {
  return value === 'light' || value === 'dark' ? value : 'system';
}
