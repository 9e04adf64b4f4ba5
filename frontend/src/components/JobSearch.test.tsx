// @vitest-environment jsdom
import { cleanup, fireEvent, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { cluster, node } from '../test/fixtures';
import { renderApp } from '../test/renderApp';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const search = () => screen.getByRole('searchbox', { name: 'Find a job by ID' });

describe('JobSearch', () => {
  it('opens the job page of an id in the cluster shown', () => {
    renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) } });
    fireEvent.change(search(), { target: { value: '  run 4/7 ' } });
    fireEvent.submit(screen.getByRole('search'));
    expect(location.pathname).toBe('/job/alpha/run%204%2F7');
    expect((search() as HTMLInputElement).value).toBe('');
  });

  it("lists the matches in the Jobs view under '* Combined', and does nothing for no text", () => {
    renderApp({ clusters: { alpha: cluster('alpha'), beta: cluster('beta') } });
    fireEvent.submit(screen.getByRole('search'));
    expect(location.pathname).toBe('/');
    fireEvent.change(search(), { target: { value: 'job-7' } });
    fireEvent.submit(screen.getByRole('search'));
    expect(location.pathname + location.search).toBe('/jobs?text=job-7');
  });
});
