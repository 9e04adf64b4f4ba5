// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { cluster, hello, node } from '../test/fixtures';
import { renderApp } from '../test/renderApp';
import { ExportButton } from './ExportButton';

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

describe('ExportButton', () => {
  it('is a download link to the CSV route with the view\'s filters', () => {
    render(<ExportButton kind="jobs" params={new URLSearchParams({ states: 'failed,running', text: 'a b&c' })} />);
    const link = screen.getByRole('link', { name: 'Export jobs as CSV' });
    expect(link.getAttribute('href')).toBe('/api/jobs.csv?states=failed%2Crunning&text=a+b%26c');
    expect(link.hasAttribute('download')).toBe(true);
    cleanup();
    render(<ExportButton kind="nodes" params={new URLSearchParams()} />);
    expect(screen.getByRole('link', { name: 'Export nodes as CSV' }).getAttribute('href')).toBe('/api/nodes.csv');
  });

  it('follows the History page\'s filters, for a viewer too', async () => {
    history.replaceState(null, '', '/history');
    renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) }, hello: hello('viewer') });
    await screen.findByRole('heading', { level: 2, name: 'History' }, { timeout: 5000 });
    const link = () => screen.getByRole('link', { name: 'Export history as CSV' }).getAttribute('href');
    expect(link()).toBe('/api/history.csv?cluster=alpha');
    fireEvent.change(screen.getByRole('combobox', { name: 'Outcome' }), { target: { value: 'failed' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Node' }), { target: { value: '127.0.0.2' } });
    expect(link()).toBe('/api/history.csv?outcome=failed&node=127.0.0.2&cluster=alpha');
    expect(screen.queryByRole('button', { name: 'Resubmit these…' })).toBeNull();
  });

  it('exports the nodes from the Monitor page', async () => {
    renderApp({ clusters: { alpha: cluster('alpha', [node('127.0.0.2')]) } });
    expect(screen.getByRole('link', { name: 'Export nodes as CSV' }).getAttribute('href')).toBe('/api/nodes.csv?cluster=alpha');
  });
});
