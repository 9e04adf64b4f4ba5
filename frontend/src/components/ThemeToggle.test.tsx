// @vitest-environment jsdom
import { cleanup, fireEvent, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderApp } from '../test/renderApp';

beforeEach(() => {
  localStorage.clear();
  document.documentElement.removeAttribute('data-theme');
});
afterEach(cleanup);

const toggle = () => screen.getByRole('button', { name: /^Theme: / });

describe('theme toggle', () => {
  it('cycles system → light → dark → system, on <html> and in localStorage', () => {
    renderApp();
    expect(toggle().getAttribute('aria-label')).toBe('Theme: system');
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);

    fireEvent.click(toggle());
    expect(toggle().getAttribute('aria-label')).toBe('Theme: light');
    expect(document.documentElement.dataset.theme).toBe('light');
    expect(localStorage.getItem('dispymon-theme')).toBe('light');

    fireEvent.click(toggle());
    expect(toggle().getAttribute('aria-label')).toBe('Theme: dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(localStorage.getItem('dispymon-theme')).toBe('dark');

    fireEvent.click(toggle());
    expect(toggle().getAttribute('aria-label')).toBe('Theme: system');
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
    expect(localStorage.getItem('dispymon-theme')).toBeNull();
  });

  it('starts from the stored choice', () => {
    localStorage.setItem('dispymon-theme', 'dark');
    renderApp();
    expect(screen.getByRole('button', { name: 'Theme: dark' })).toBeTruthy();
  });

  it('ignores an unknown stored value', () => {
    localStorage.setItem('dispymon-theme', 'sepia');
    renderApp();
    expect(screen.getByRole('button', { name: 'Theme: system' })).toBeTruthy();
  });
});
