/**
 * CIDR parsing and overlap for Cluster validation. Addresses become BigInts so IPv4 and
 * IPv6 share one code path; the network address is the CIDR with its host bits cleared.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface Cidr {
  family: IpFamily;
  /** Network address with host bits cleared. */
  network: bigint;
  prefix: number;
  text: string;
}

function ipv4ToBigInt(ip: string): bigint {
  return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number.parseInt(octet, 10)), 0n);
}

function ipv6ToBigInt(ip: string): bigint {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToBigInt(v4[1] as string);
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  return parts.reduce((acc, h) => (acc << 16n) | BigInt(Number.parseInt(h, 16)), 0n);
}

/** The parsed CIDR, or a reason it does not parse. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return 'must be a CIDR such as 10.0.0.0/16 or fd00::/64';
  const ip = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return 'prefix length must be a decimal number';
  const prefix = Number.parseInt(prefixText, 10);
  let family: IpFamily;
  let addr: bigint;
  if (isIPv4(ip)) {
    family = 4;
    addr = ipv4ToBigInt(ip);
  } else if (isIPv6(ip) && !ip.includes('%')) {
    family = 6;
    addr = ipv6ToBigInt(ip);
  } else {
    return 'must be a CIDR such as 10.0.0.0/16 or fd00::/64';
  }
  const bits = family === 4 ? 32 : 128;
  if (prefix > bits) return `prefix length must be at most ${bits} for an IPv${family} CIDR`;
  const hostBits = BigInt(bits - prefix);
  const network = (addr >> hostBits) << hostBits;
  return { family, network, prefix, text };
}

/** Two CIDRs of the same family overlap iff one contains the other's network address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const shortest = BigInt(bits - Math.min(a.prefix, b.prefix));
  return a.network >> shortest === b.network >> shortest;
}

/** Same network and prefix, whatever the spelling (10.0.0.1/8 and 10.0.0.0/8 are equal). */
export function cidrsEqual(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.network === b.network;
}
