import { describe, expect, it } from 'vitest';
import { formatClock, formatSeconds, parseInterval, secPerJob } from './format';

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
});
