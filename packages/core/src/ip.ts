/**
 * @module ip
 * Turning a client address into a rate-limit key.
 */

function parseIPv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** Whether `s` is a dotted-quad IPv4 address (no allocation: this runs on every request). */
function isIPv4(s: string): boolean {
  let dots = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return false;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57 && ++digits <= 3) {
      value = value * 10 + (c - 48);
      if (value > 255) return false;
    } else {
      return false;
    }
  }
  return dots === 3 && digits > 0;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function parseIPv6(s: string): number[] | undefined {
  // Brackets first: a zone id sits inside them (`[fe80::1%eth0]`).
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (lastColon !== -1 && s.indexOf('.', lastColon) !== -1) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const group = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (!head || !rest) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    // `::` stands for at least one group of zeros (RFC 4291 §2.2).
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  if (tail.length === 2) {
    groups[6] = tail[0]!;
    groups[7] = tail[1]!;
  }
  return groups;
}

/**
 * The rate-limit key of a client address: IPv4 as is, IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as
 * its IPv4, any other IPv6 by its /56 prefix (one subscriber usually holds a whole /56 or /64,
 * so keying single addresses would let them rotate freely). Returns `undefined` when `address`
 * is not an IP address.
 *
 * @example
 * ipKey('::ffff:10.0.0.1');         // '10.0.0.1'
 * ipKey('2001:db8:abcd:12ff::1');   // '2001:db8:abcd:1200::/56'
 */
export function ipKey(address: string | undefined | null): string | undefined {
  if (typeof address !== 'string' || address.length === 0) return undefined;
  if (address.indexOf(':') === -1) return isIPv4(address) ? address : undefined;
  const g = parseIPv6(address);
  if (!g) return undefined;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  }
  return `${g[0]!.toString(16)}:${g[1]!.toString(16)}:${g[2]!.toString(16)}:${(g[3]! & 0xff00).toString(16)}::/56`;
}
