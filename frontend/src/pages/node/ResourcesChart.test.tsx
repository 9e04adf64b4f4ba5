// @vitest-environment jsdom
import { act, cleanup, fireEvent, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NodeResources } from '../../core/protocol';
import { cluster, node } from '../../test/fixtures';
import { renderApp } from '../../test/renderApp';

// jsdom has no canvas: the uPlot drawing is replaced; what is tested is what
// everyone gets (the label, the latest pulse, the table).
vi.mock('./ResourcesPlot', () => ({ default: () => null }));

afterEach(() => {
  cleanup();
  history.replaceState(null, '', '/');
});

const IP = '127.0.0.2';
const T = 1_700_000_040;

function answer(fields: Partial<NodeResources> = {}): NodeResources {
  return {
    node: IP,
    span: '10m',
    step: 1,
    end: T + 10,
    times: [T + 1, T + 3],
    cpu: [75, 62.5],
    memory: [3e9, 2.5e9],
    disk: [5e10, 4.9e10],
    swap: [100, 98],
    kept: true,
    note: null,
    ...fields,
  };
}

async function openNode() {
  history.replaceState(null, '', `/node/${IP}`);
  const app = renderApp({ clusters: { alpha: cluster('alpha', [node(IP)]) } });
  await screen.findByRole('heading', { level: 2, name: `Node ${IP}` }, { timeout: 5000 });
  const asked = () => app.commands.filter((c) => c.name === 'node_resources');
  return { ...app, asked };
}

describe("the Node page's resources chart", () => {
  it("asks for the node's last 10 minutes and says its latest pulse", async () => {
    const { asked } = await openNode();
    expect(asked().map((c) => c.args)).toEqual([{ node: IP, span: '10m' }]);
    await act(async () => asked()[0]!.resolve(answer()));
    const chart = screen.getByRole('img', { name: /^CPU, memory, disk and swap free/ });
    expect(chart.getAttribute('aria-label')).toBe(
      'CPU, memory, disk and swap free, last 10 minutes: 2 pulses; latest CPU 62.5 %, memory 2.5 GB, disk 49.0 GB, swap 98.0 %',
    );
    expect(screen.getByTestId('resources-points').textContent).toBe('2');
    expect(screen.getByTestId('resources-latest-time').querySelector('time')!.getAttribute('dateTime')).toBe(new Date((T + 3) * 1000).toISOString());
    expect(screen.getByTestId('resources-latest-cpu').textContent).toBe('62.5 %');
    expect(screen.getByRole('table', { name: /per minute \(means\)/ })).toBeTruthy();
  });

  it('switches to the day by minute, and says why a node has no series', async () => {
    const { asked } = await openNode();
    fireEvent.change(screen.getByRole('combobox', { name: 'Resources range' }), { target: { value: 'day' } });
    expect(asked().at(-1)!.args).toEqual({ node: IP, span: 'day' });
    const note = 'not kept: the resource history\'s budget (64 MiB, 2730 nodes) was full when this node first reported';
    await act(async () =>
      asked().at(-1)!.resolve(answer({ span: 'day', step: 60, times: [], cpu: [], memory: [], disk: [], swap: [], kept: false, note })),
    );
    expect(screen.getByTestId('resources-note').textContent).toBe(`Resource history: ${note}`);
    expect(screen.getByRole('img', { name: /^CPU, memory/ }).getAttribute('aria-label')).toContain('last 24 hours: not kept');
  });
});
