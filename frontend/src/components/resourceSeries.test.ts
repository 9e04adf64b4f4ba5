import { describe, expect, it } from 'vitest';
import type { NodeResources } from '../core/protocol';
import { isNodeResources, latest, perGroup, plotData, resourceLabel, spanInfo, xRange } from './resourceSeries';
import { sparkLabel, sparkSegments } from './sparkPath';

const END = 1_700_000_040; // a minute boundary

function resources(fields: Partial<NodeResources> = {}): NodeResources {
  return {
    node: '127.0.0.2',
    span: '10m',
    step: 1,
    end: END + 59,
    times: [END - 2, END + 1, END + 3],
    cpu: [90, 80.5, 70],
    memory: [2e9, 1.5e9, null],
    disk: [4e10, 4e10, 4e10],
    swap: [100, 100, 99.5],
    kept: true,
    note: null,
    ...fields,
  };
}

describe('a node resource series', () => {
  it('plots each pulse at its time over the whole window', () => {
    const r = resources();
    expect(plotData(r)).toEqual([r.times, r.cpu, r.swap, r.memory, r.disk]);
    expect(xRange(r)).toEqual([END + 60 - 600, END + 60]);
    expect(xRange(resources({ span: 'day', step: 60, end: END }))).toEqual([END + 60 - 86_400, END + 60]);
  });

  it('says the latest pulse and how many there are', () => {
    const r = resources();
    expect(latest(r)).toEqual({ time: END + 3, cpu: 70, memory: null, disk: 4e10, swap: 99.5 });
    expect(resourceLabel(r, spanInfo('10m'))).toBe(
      'CPU, memory, disk and swap free, last 10 minutes: 3 pulses; latest CPU 70.0 %, memory —, disk 40.0 GB, swap 99.5 %',
    );
    expect(resourceLabel(null, spanInfo('day'))).toBe('CPU, memory, disk and swap free, last 24 hours: loading');
    const none = resources({ times: [], cpu: [], memory: [], disk: [], swap: [], kept: false, note: 'not kept: the budget' });
    expect(resourceLabel(none, spanInfo('10m'))).toBe('CPU, memory, disk and swap free, last 10 minutes: not kept: the budget');
  });

  it('groups the text alternative per minute with means of the values it has', () => {
    expect(perGroup(resources(), 60)).toEqual([
      { start: END - 60, points: 1, cpu: 90, memory: 2e9, disk: 4e10, swap: 100 },
      { start: END, points: 2, cpu: 75.25, memory: 1.5e9, disk: 4e10, swap: 99.75 },
    ]);
  });

  it('tells a node series from the sparklines answer', () => {
    expect(isNodeResources(resources())).toBe(true);
    expect(isNodeResources({ span: '10m', step: 10, end: END, nodes: {} })).toBe(false);
  });
});

describe('sparkline', () => {
  it('draws 100 % free at the top, breaks the line where there was no pulse, and shows a lone point', () => {
    expect(sparkSegments([100, 0, null, 50, null], 40, 10)).toEqual(['0.0,0.0 10.0,10.0', '29.0,5.0 31.0,5.0']);
    expect(sparkSegments([], 40, 10)).toEqual([]);
    expect(sparkSegments([null, null], 40, 10)).toEqual([]);
    // values out of range stay in the box
    expect(sparkSegments([120, -5], 10, 10)).toEqual(['0.0,0.0 10.0,10.0']);
  });

  it('names the latest value and the range', () => {
    expect(sparkLabel([null, 40, 90, 60, null])).toBe('CPU free, last 10 minutes: latest 60 %, lowest 40 %, highest 90 %');
    expect(sparkLabel(null)).toBe('CPU free, last 10 minutes: no pulses');
    expect(sparkLabel([null])).toBe('CPU free, last 10 minutes: no pulses');
  });
});
