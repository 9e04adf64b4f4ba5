import { describe, expect, it } from 'vitest';
import { compareIp, ipKey } from './ipOrder';

describe('compareIp', () => {
  const sorted = (ips: string[]) => [...ips].sort(compareIp);

  it('orders IPv4 addresses numerically', () => {
    expect(compareIp('127.0.0.10', '127.0.0.9')).toBeGreaterThan(0);
    expect(compareIp('10.0.0.2', '9.255.255.255')).toBeGreaterThan(0);
    expect(compareIp('192.168.1.1', '192.168.1.1')).toBe(0);
    expect(sorted(['127.0.0.10', '127.0.0.9', '127.0.0.100', '127.0.0.2'])).toEqual([
      '127.0.0.2',
      '127.0.0.9',
      '127.0.0.10',
      '127.0.0.100',
    ]);
  });

  it('puts other strings after IPv4 addresses, in string order', () => {
    // 256.1.1.1 is not a valid IPv4 address, so it sorts as a string
    expect(sorted(['host-b', '::1', '10.0.0.1', 'host-a', '256.1.1.1'])).toEqual([
      '10.0.0.1',
      '256.1.1.1',
      '::1',
      'host-a',
      'host-b',
    ]);
  });
});

describe('ipKey', () => {
  it('reads a dotted quad as its number, anything else as itself', () => {
    expect(ipKey('10.0.0.1')).toBe(10 * 2 ** 24 + 1);
    expect(ipKey('255.255.255.255')).toBe(2 ** 32 - 1);
    expect(ipKey('010.000.0.1')).toBe(ipKey('10.0.0.1'));
    for (const text of ['1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4a', '1234.1.1.1', '1.2.3.256', '', '::1', 'host-a']) {
      expect(ipKey(text)).toBe(text);
    }
  });
});
