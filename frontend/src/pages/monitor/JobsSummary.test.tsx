// @vitest-environment jsdom
import { act, cleanup, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { cluster } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

// The red of styles.css hangs on the figure's `alarm` class.
const alarmed = (key: string) => screen.getByTestId(`jobs-${key}`).parentElement!.classList.contains('alarm');

describe('JobsSummary alarms', () => {
  it('shows zero failed and abandoned jobs plainly, and only a non-zero count as an alarm', () => {
    const { store } = renderApp({ clusters: { alpha: cluster('alpha', [], { submitted: 4, done: 4, finished: 4 }) } });
    expect(screen.getByTestId('jobs-failed').textContent).toBe('0');
    expect(screen.getByTestId('jobs-abandoned').textContent).toBe('0');
    expect(alarmed('failed')).toBe(false);
    expect(alarmed('abandoned')).toBe(false);

    act(() => store.setState({ clusters: { alpha: cluster('alpha', [], { submitted: 6, done: 6, finished: 4, failed: 2 }) } }));
    expect(screen.getByTestId('jobs-failed').textContent).toBe('2');
    expect(alarmed('failed')).toBe(true);
    expect(alarmed('abandoned')).toBe(false);
    // counts that are no alarm never get one
    expect(alarmed('finished')).toBe(false);
    expect(alarmed('done')).toBe(false);
  });
});
