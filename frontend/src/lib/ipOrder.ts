// IP addresses in numeric order, written once: the Monitor page's table and
// the Manage page's node list sort by it.

/** An address's sort key: the IPv4 address as a number, anything else (IPv6, host names) as itself. */
export type IpKey = number | string;

// Keys computed once per address: sorting 10,000 nodes compares ~130,000 pairs.
const ipKeys = new Map<string, IpKey>();

/**
 * A dotted quad's value (four decimal octets of 1-3 digits, each ≤ 255), or
 * -1. Read character by character: through a regular expression and its
 * arrays, 100,000 addresses in a snapshot took ~120 ms (Chrome's profiler).
 */
function ipv4Value(ip: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? value * 256 + octet : -1;
}

export function ipKey(ip: string): IpKey {
  let key = ipKeys.get(ip);
  if (key === undefined) {
    const value = ipv4Value(ip);
    key = value >= 0 ? value : ip;
    if (ipKeys.size > 200_000) ipKeys.clear(); // bounded: addresses come and go
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
