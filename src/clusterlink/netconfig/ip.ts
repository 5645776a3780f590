/**
 * IP and CIDR arithmetic on bigints, so v4 and v6 share one code path and results print
 * exactly as the kernel and iptables print them (network address, compressed IPv6).
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface IP {
  family: Family;
  value: bigint;
}

export interface CIDR {
  family: Family;
  /** Network address (host bits cleared). */
  network: bigint;
  prefix: number;
}

export const bits = (f: Family): number => (f === 4 ? 32 : 128);

export function parseIP(s: string): IP | undefined {
  if (isIPv4(s)) {
    const value = s.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
    return { family: 4, value };
  }
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = parseIP(dotted[1]);
    if (!v4) return undefined;
    text = `${text.slice(0, -dotted[1].length)}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  return { family: 6, value };
}

export function formatIP(ip: IP): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const mask = (f: Family, prefix: number): bigint => {
  const total = BigInt(bits(f));
  return ((1n << total) - 1n) ^ ((1n << (total - BigInt(prefix))) - 1n);
};

export function parseCIDR(s: string): CIDR | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(ip.family)) return undefined;
  return { family: ip.family, network: ip.value & mask(ip.family, prefix), prefix };
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP({ family: c.family, value: c.network })}/${c.prefix}`;
}

/** `10.237.6.0/18` → `10.237.0.0/18`; undefined when unparsable. */
export function normalizeCIDR(s: string): string | undefined {
  const c = parseCIDR(s);
  return c ? formatCIDR(c) : undefined;
}

export function contains(outer: CIDR, inner: CIDR): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    (inner.network & mask(outer.family, outer.prefix)) === outer.network
  );
}

export function intersects(a: CIDR, b: CIDR): boolean {
  return contains(a, b) || contains(b, a);
}

/** Keep the prefix bits of `within`, take the host bits from `host`: how a VTEP address is derived. */
export function graft(host: IP, within: CIDR): IP {
  const m = mask(within.family, within.prefix);
  const full = (1n << BigInt(bits(within.family))) - 1n;
  return { family: within.family, value: within.network | (host.value & (full ^ m)) };
}

/** Translate `c` (inside `from`) into the same position inside `to` (as iptables NETMAP does). */
export function netmapCIDR(c: CIDR, from: CIDR, to: CIDR): CIDR {
  const full = (1n << BigInt(bits(from.family))) - 1n;
  const hostBits = c.network & (full ^ mask(from.family, from.prefix));
  return { family: c.family, network: to.network | hostBits, prefix: c.prefix };
}

export function firstHost(c: CIDR): IP {
  // A /32 or /128 has only itself; otherwise skip the network address.
  const off = c.prefix >= bits(c.family) - 1 ? 0n : 1n;
  return { family: c.family, value: c.network + off };
}

export function familyOfText(s: string): Family {
  return s.includes(':') ? 6 : 4;
}
