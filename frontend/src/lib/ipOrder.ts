// IP addresses in numeric order, written once: the Monitor page's table and
// the Manage page's node list sort by it.

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An address's sort key: the IPv4 address as a number, anything else (IPv6, host names) as itself. */
export type IpKey = number | string;

// Keys computed once per address: sorting 10,000 nodes compares ~130,000 pairs.
const ipKeys = new Map<string, IpKey>();

export function ipKey(ip: string): IpKey {
  let key = ipKeys.get(ip);
  if (key === undefined) {
    const m = IPV4.exec(ip);
    const octets = m ? m.slice(1).map(Number) : [];
    key = m && octets.every((o) => o <= 255) ? octets.reduce((v, o) => v * 256 + o, 0) : ip;
    if (ipKeys.size > 100_000) ipKeys.clear(); // bounded: addresses come and go
    ipKeys.set(ip, key);
  }
  return key;
}

/** IPv4 keys numerically, before anything else, which compares as plain strings. */
export function compareIpKeys(a: IpKey, b: IpKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders addresses numerically (127.0.0.9 < 127.0.0.10), IPv4 addresses
 * before anything else (IPv6, host names), which compare as plain strings.
 */
export function compareIp(a: string, b: string): number {
  return compareIpKeys(ipKey(a), ipKey(b));
}
