// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobTable } from '../../core/jobTable';
import type { Job } from '../../core/protocol';
import { cluster, node } from '../../test/fixtures';
import { installDialogPolyfill, renderApp } from '../../test/renderApp';

const IP = '127.0.0.2';
const LONG = `[${Array.from({ length: 40 }, (_, i) => i * 1000).join(', ')}]`;

// jsdom lays nothing out. Give the jobs table's scroll box a height (for the
// virtualiser), and an argument's text box a width of 160 px at 8 px a
// character, so that a longer text is cut as a browser would cut it.
const saved = ['clientHeight', 'clientWidth', 'scrollWidth'].map((p) => [p, Object.getOwnPropertyDescriptor(Element.prototype, p)] as const);
beforeAll(() => {
  installDialogPolyfill();
  const define = (name: string, get: (this: Element) => number) => Object.defineProperty(Element.prototype, name, { configurable: true, get });
  define('clientHeight', function () {
    return this.classList.contains('virtual-scroll') ? 400 : 0;
  });
  define('clientWidth', function () {
    return this.classList.contains('arg-text') ? 160 : 0;
  });
  define('scrollWidth', function () {
    return this.classList.contains('arg-text') ? 8 * (this.textContent?.length ?? 0) : 0;
  });
});
afterAll(() => {
  for (const [name, descriptor] of saved) if (descriptor) Object.defineProperty(Element.prototype, name, descriptor);
});
afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const job = (uid: number, args: string, kwargs: string): Job => ({
  uid, key: uid + 1000, cluster: 'alpha', id: `job-${uid}`, args, kwargs, start_time: 1_700_000_000, ip_addr: IP,
});

async function openNode() {
  history.replaceState(null, '', `/node/${IP}`);
  const app = renderApp({
    clusters: { alpha: cluster('alpha', [node(IP, { busy: 2 })]) },
    nodeJobs: { ip_addr: IP, jobs: JobTable.of([job(1, LONG, 'n=1'), job(2, '2', `label='${'y'.repeat(30)}'`)]) },
  });
  await screen.findByRole('heading', { level: 2, name: `Node ${IP}` }, { timeout: 5000 });
  return app;
}

describe('Running jobs: cut arguments', () => {
  it('offers a named button for each cut cell only, which opens the full text in a dialog', async () => {
    await openNode();
    const buttons = screen.getAllByRole('button', { name: /^Show all: / });
    // job-1's arguments and job-2's keyword arguments are cut; the short ones are not
    expect(buttons.map((b) => b.getAttribute('aria-label'))).toEqual([
      'Show all: Arguments of job job-1',
      'Show all: Keyword arguments of job job-2',
    ]);
    fireEvent.click(buttons[0]!);
    const dialog = screen.getByRole('dialog', { name: 'Arguments of job job-1' });
    expect((dialog as HTMLDialogElement).open).toBe(true);
    expect(within(dialog).getByRole('heading').textContent).toBe('Arguments of job job-1');
    expect(dialog.querySelector('pre')!.textContent).toBe(LONG);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    expect((dialog as HTMLDialogElement).open).toBe(false);
    expect(dialog.textContent).not.toContain(LONG);
  });

  it('takes the text away when job arguments are turned off meanwhile', async () => {
    const { store } = await openNode();
    fireEvent.click(screen.getByRole('button', { name: 'Show all: Keyword arguments of job job-2' }));
    expect(screen.getByRole('dialog').textContent).toContain('y'.repeat(30));
    act(() => store.getState().confirmSettings({ show_job_args: false }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.body.textContent).not.toContain('y'.repeat(30));
    expect(screen.queryAllByRole('button', { name: /^Show all: / })).toEqual([]);
  });
});
