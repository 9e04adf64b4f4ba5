// @vitest-environment jsdom
import { cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Fleet, FleetProgram } from '../core/protocol';
import { cluster, node } from '../test/fixtures';
import { renderApp } from '../test/renderApp';

afterEach(cleanup);

function program(clusters: string[], fields: Partial<FleetProgram> = {}): FleetProgram {
  return {
    online: true, last_seen: 1_700_000_000, offline_since: null, stopped: false, host: 'h', pid: 1,
    dropped: 0, resyncs: 0, resynced: null, clusters, ...fields,
  };
}

function central(fields: Partial<Fleet> = {}): Fleet {
  return {
    role: 'central', broker: 'redis://127.0.0.1:6379/0', reachable: true, since: 1_700_000_000,
    programs: {
      'lab-A': program(['lab-A/compute']),
      'lab-B': program(['lab-B/compute'], { online: false, offline_since: 1_700_000_100 }),
    },
    ...fields,
  };
}

const fleetClusters = () => ({
  'lab-A/compute': { ...cluster('lab-A/compute', [node('127.0.0.2')]), program: 'lab-A' },
  'lab-B/compute': { ...cluster('lab-B/compute', [node('127.0.0.4')]), program: 'lab-B' },
});

describe('program selector', () => {
  it('is absent without a broker', () => {
    renderApp({ clusters: fleetClusters() });
    expect(screen.queryByLabelText('Program')).toBeNull();
  });

  it('lists the programs, says which is offline, and selects a program\'s cluster', async () => {
    const { store } = renderApp({ clusters: fleetClusters(), fleet: central() });
    // loaded only on a dashboard with a broker (App.tsx)
    const select = (await screen.findByLabelText('Program', undefined, { timeout: 5000 })) as HTMLSelectElement;
    const options = within(select).getAllByRole('option').map((o) => o.textContent);
    expect(options[0]).toBe('All programs (2)');
    expect(options[1]).toBe('lab-A');
    expect(options[2]).toMatch(/^lab-B \(offline since \d\d:\d\d(:\d\d)?\)$/);
    expect(screen.getByRole('status', { name: 'Programs' }).textContent).toMatch(/lab-B offline since/);
    fireEvent.change(select, { target: { value: 'lab-B' } });
    expect(store.getState().selectedCluster).toBe('lab-B/compute');
    expect(select.value).toBe('lab-B');
    fireEvent.change(select, { target: { value: '' } });
    expect(store.getState().selectedCluster).toBe('* Combined');
  });

  it('says when the broker is unreachable, and when a program was resynced', async () => {
    const programs = { 'lab-A': program(['lab-A/compute'], { resyncs: 1, resynced: 1_700_000_200 }) };
    renderApp({ clusters: fleetClusters(), fleet: central({ reachable: false, programs }) });
    expect((await screen.findByRole('alert', undefined, { timeout: 5000 })).textContent).toMatch(/^Broker redis:\/\/127\.0\.0\.1:6379\/0 unreachable since/);
    expect(screen.getByRole('status', { name: 'Programs' }).textContent).toMatch(/lab-A resynced from a snapshot at/);
  });

  it('on a publishing program: where it publishes and what it dropped', async () => {
    renderApp({
      clusters: fleetClusters(),
      fleet: { role: 'program', program: 'lab-A', broker: 'redis://h:6379/0', reachable: true, since: 0, dropped: 12 },
    });
    expect((await screen.findByLabelText('Fleet', undefined, { timeout: 5000 })).textContent).toMatch(/Publishing as lab-A to redis:\/\/h:6379\/0; 12 events dropped/);
  });
});
