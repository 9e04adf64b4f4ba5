// Renders the whole app with its own store and a scripted stand-in for the
// socket: tests read the commands a page sent and answer them.
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { App } from '../App';
import { ServicesProvider } from '../core/context';
import type { SocketControls } from '../core/context';
import type { CommandName, WatchedJob } from '../core/protocol';
import { CommandFailedError } from '../core/socket';
import { createDashboardStore } from '../core/store';
import type { DashboardState } from '../core/store';

export interface SentCommand {
  name: CommandName;
  args: Record<string, unknown>;
  resolve(value: unknown): void;
  /** answers `ok: false` with this code and message */
  fail(code: CommandFailedError['code'], message: string): void;
}

export function renderApp(init: Partial<DashboardState> = {}) {
  const store = createDashboardStore({
    connection: 'live',
    interval: 10,
    seq: 1,
    awaitingSnapshot: false,
    settings: { show_job_args: true },
    ...init,
  });
  const commands: SentCommand[] = [];
  const socket = {
    setViewInterval: vi.fn((s: number) => store.getState().chooseInterval(s)),
    setWatchedNode: vi.fn((ip: string | null) => store.getState().watchNode(ip)),
    setWatchedJob: vi.fn((job: WatchedJob | null) => store.getState().watchJob(job)),
    flush: vi.fn(() => store.getState().requestUpdate()),
    command: vi.fn(
      (name: CommandName, args: object) =>
        new Promise((resolve, reject) => {
          commands.push({
            name,
            args: args as Record<string, unknown>,
            resolve,
            fail: (code, message) => reject(new CommandFailedError(code, message)),
          });
        }),
    ) as unknown as SocketControls['command'],
  } satisfies SocketControls;
  const view = render(
    <ServicesProvider store={store} socket={socket}>
      <App />
    </ServicesProvider>,
  );
  /** the only command sent so far with this name */
  const sent = (name: CommandName): SentCommand => {
    const matching = commands.filter((c) => c.name === name);
    if (matching.length !== 1) throw new Error(`expected one ${name} command, got ${matching.length}`);
    return matching[0]!;
  };
  return { store, socket, commands, sent, view };
}

/**
 * jsdom has no <dialog> modal API: a minimal one, enough for the pages'
 * open/close logic (the browser's focus trap is not simulated).
 */
export function installDialogPolyfill(): void {
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { __polyfilled?: boolean };
  if (proto.__polyfilled) return;
  proto.__polyfilled = true;
  proto.showModal = function showModal(this: HTMLDialogElement) {
    if (this.open) throw new DOMException('already open', 'InvalidStateError');
    this.setAttribute('open', '');
  };
  proto.close = function close(this: HTMLDialogElement) {
    if (!this.open) return;
    this.removeAttribute('open');
    this.dispatchEvent(new Event('close'));
  };
}
