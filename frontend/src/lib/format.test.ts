import { describe, expect, it } from 'vitest';
import { formatBytes, formatClock, formatElapsed, formatPercent, formatSeconds, parseInterval, secPerJob, statusText } from './format';

describe('format', () => {
  it('shows local wall-clock time, or a dash for never', () => {
    const t = new Date(2024, 0, 2, 3, 4, 5).getTime() / 1000;
    expect(formatClock(t)).toBe('03:04:05');
    expect(formatClock(new Date(2024, 0, 2, 23, 59, 9).getTime() / 1000 + 0.7)).toBe('23:59:09');
    expect(formatClock(0)).toBe('—');
  });

  it('formats seconds and averages per job', () => {
    expect(formatSeconds(1.23456)).toBe('1.235');
    expect(secPerJob(3, 4)).toBe(0.75);
    expect(secPerJob(3, 0)).toBeNull();
  });

  it('accepts finite numbers of seconds only', () => {
    expect(parseInterval('0.25')).toBe(0.25);
    expect(parseInterval(' 10 ')).toBe(10);
    expect(parseInterval('0')).toBe(0);
    expect(parseInterval('-1')).toBe(-1);
    expect(parseInterval('')).toBeNull();
    expect(parseInterval('  ')).toBeNull();
    expect(parseInterval('abc')).toBeNull();
    expect(parseInterval('1e999')).toBeNull();
  });

  it('formats bytes in decimal units, percentages and elapsed times', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_234_000_000)).toBe('1.2 GB');
    expect(formatBytes(56_780_000)).toBe('56.8 MB');
    expect(formatBytes(250_400_000_000)).toBe('250 GB');
    expect(formatBytes(3.2e15)).toBe('3.2 PB');
    expect(formatPercent(93.46)).toBe('93.5 %');
    expect(formatElapsed(12.9)).toBe('12 s');
    expect(formatElapsed(184)).toBe('3 min 04 s');
    expect(formatElapsed(2 * 3600 + 5 * 60 + 9)).toBe('2 h 05 min 09 s');
    // a node clock ahead of this one: never negative
    expect(formatElapsed(-3)).toBe('0 s');
  });

  it('names node states as the pages show them', () => {
    expect(['initialized', 'deallocated', 'closed'].map((s) => statusText(s as 'closed'))).toEqual([
      'Initialized',
      'Deallocated',
      'Closed',
    ]);
  });
});
