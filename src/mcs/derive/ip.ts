/**
 * The clusterset IP allocator: every ClusterSetIP import gets one VIP per configured CIDR
 * family, chosen by hashing "<namespace>/<name>" into the CIDR and probing upwards past taken
 * addresses. Hashing makes the first choice the same in every controller replica and after a
 * restart; the VIPs already written to ServiceImports win over the hash, so a VIP never moves
 * while its ServiceImport lives (KEP-1645: stable for the import's life).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { KosmosError } from '../../common/errors.js';
import type { IPFamily } from '../types.js';

export interface Cidr {
  family: IPFamily;
  base: bigint;
  bits: number;
  prefix: number;
  text: string;
}

function ipToBigInt(ip: string): bigint {
  if (isIP(ip) === 4) return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  if (isIP(ip) !== 6) throw new KosmosError(`"${ip}" is not an IP address`);
  const [head = '', tail] = ip.split('::');
  const parse = (s: string) => (s ? s.split(':').map((h) => BigInt(parseInt(h, 16))) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = [...h, ...Array<bigint>(8 - h.length - t.length).fill(0n), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

export function bigIntToIp(n: bigint, family: IPFamily): string {
  if (family === 'IPv4') return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  // The shortest form is not needed for correctness, but it is what users and dig print.
  const text = groups.join(':');
  const runs = [...text.matchAll(/(?:^|:)0(?::0)+(?::|$)/g)].sort((a, b) => b[0].length - a[0].length);
  const best = runs[0];
  return best ? `${text.slice(0, best.index)}::${text.slice(best.index + best[0].length)}` : text;
}

export function parseCidr(text: string): Cidr {
  const [ip = '', len = ''] = text.split('/');
  const kind = isIP(ip);
  const bits = kind === 4 ? 32 : 128;
  const prefix = Number(len);
  if (kind === 0 || !/^\d+$/.test(len) || prefix > bits - 2) {
    throw new KosmosError(
      `clusterset CIDR "${text}": want an IPv4 or IPv6 CIDR with room for at least 2 addresses`,
    );
  }
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { family: kind === 4 ? 'IPv4' : 'IPv6', base: ipToBigInt(ip) & mask, bits, prefix, text };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const kind = isIP(ip);
  if ((kind === 4 ? 'IPv4' : kind === 6 ? 'IPv6' : undefined) !== cidr.family) return false;
  const hostBits = BigInt(cidr.bits - cidr.prefix);
  return ipToBigInt(ip) >> hostBits === cidr.base >> hostBits;
}

/** Usable offsets exclude the network address and the last address (v4 broadcast). */
function size(cidr: Cidr): bigint {
  return (1n << BigInt(cidr.bits - cidr.prefix)) - 2n;
}

function hashOffset(key: string, modulo: bigint): bigint {
  const digest = createHash('sha256').update(key).digest();
  return digest.readBigUInt64BE(0) % modulo;
}

/**
 * Allocates one VIP per key in `cidr`. `existing` holds each key's current VIP (from its
 * ServiceImports); a current VIP inside the CIDR and not already claimed by an earlier key
 * (in sorted key order) is kept; every other key gets its hash slot or the next free one.
 */
export function allocateIps(
  cidr: Cidr,
  keys: readonly string[],
  existing: ReadonlyMap<string, readonly string[]>,
): Map<string, string> {
  const sorted = [...new Set(keys)].sort();
  const taken = new Set<bigint>();
  const result = new Map<string, string>();
  for (const key of sorted) {
    const ip = (existing.get(key) ?? []).find((a) => cidrContains(cidr, a));
    if (ip === undefined) continue;
    const n = ipToBigInt(ip);
    if (taken.has(n) || n === cidr.base || n === cidr.base + size(cidr) + 1n) continue;
    taken.add(n);
    result.set(key, bigIntToIp(n, cidr.family));
  }
  const total = size(cidr);
  for (const key of sorted) {
    if (result.has(key)) continue;
    if (BigInt(taken.size) >= total)
      throw new KosmosError(`clusterset CIDR ${cidr.text} is full: cannot allocate a VIP for ${key}`);
    let offset = hashOffset(key, total);
    while (taken.has(cidr.base + 1n + offset)) offset = (offset + 1n) % total;
    const n = cidr.base + 1n + offset;
    taken.add(n);
    result.set(key, bigIntToIp(n, cidr.family));
  }
  return result;
}
