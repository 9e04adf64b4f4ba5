// @vitest-environment jsdom
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServicesProvider } from './context';
import type { SocketControls } from './context';
import { createDashboardStore } from './store';
import { useQuery } from './useCommands';
import type { Query } from './useCommands';

afterEach(cleanup);

function setup() {
  const sent: { args: unknown; resolve(v: unknown): void; reject(e: unknown): void }[] = [];
  const command = vi.fn(
    (_name: string, args: unknown) => new Promise((resolve, reject) => sent.push({ args, resolve, reject })),
  );
  const socket = { setViewInterval: vi.fn(), setWatchedNode: vi.fn(), flush: vi.fn(), command } as unknown as SocketControls;
  let last: Query<unknown> | null = null;
  function Probe({ node }: { node: string }) {
    // a new args object on every render, as pages build them
    const q = useQuery('series', { node });
    last = q;
    return <p>{q.error ?? JSON.stringify(q.value)}</p>;
  }
  const store = createDashboardStore();
  const view = render(
    <ServicesProvider store={store} socket={socket}>
      <Probe node="a" />
    </ServicesProvider>,
  );
  const rerender = (node: string) =>
    view.rerender(
      <ServicesProvider store={store} socket={socket}>
        <Probe node={node} />
      </ServicesProvider>,
    );
  return { sent, command, rerender, query: () => last!, view };
}

describe('useQuery', () => {
  it('asks again only when the arguments change by value, or on reload', () => {
    const { command, rerender, query } = setup();
    expect(command).toHaveBeenCalledTimes(1);
    rerender('a'); // equal arguments in a new object
    expect(command).toHaveBeenCalledTimes(1);
    rerender('b');
    expect(command).toHaveBeenCalledTimes(2);
    expect(command).toHaveBeenLastCalledWith('series', { node: 'b' });
    act(() => query().reload());
    expect(command).toHaveBeenCalledTimes(3);
    expect(command).toHaveBeenLastCalledWith('series', { node: 'b' });
  });

  it("keeps the latest question's answer, and says why an attempt failed", async () => {
    const { sent, rerender } = setup();
    rerender('b');
    await act(async () => sent[1]!.resolve('for b'));
    await act(async () => sent[0]!.resolve('for a')); // late answer to the old question
    expect(screen.getByText('"for b"')).toBeTruthy();
    rerender('c');
    await act(async () => sent[2]!.reject(new Error('no answer')));
    expect(screen.getByText('no answer')).toBeTruthy();
  });
});
