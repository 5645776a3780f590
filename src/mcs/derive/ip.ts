/**
 * The clusterset IP allocator: every ClusterSetIP import gets one VIP per configured CIDR
 * family, chosen by hashing "<namespace>/<name>" into the CIDR and probing upwards past taken
 * addresses. Hashing makes the first choice the same in every controller replica and after a
 * restart; the VIPs already written to ServiceImports win over the hash, so a VIP never moves
 * while its ServiceImport lives (KEP-1645: stable for the import's life).
 */
import { createHash } from 'node:crypto';
import { formatFieldError, invalid } from '../../api/field-errors.js';
import { KosmosError, UserError } from '../../common/errors.js';
import {
  type CIDR,
  bits,
  cidrContains as rangeContains,
  familyName,
  formatIP,
  parseCIDR,
  parseIP,
} from '../../common/ip.js';
import type { IPFamily } from '../types.js';

/** A clusterset CIDR: the range, its family as Service spec.ipFamilies spells it, and its text. */
export interface Cidr {
  family: IPFamily;
  range: CIDR;
  text: string;
}

/** The clusterset CIDR given at `field`; it must leave room for at least 2 addresses. */
export function parseCidr(text: string, field = '--clusterset-cidr'): Cidr {
  const range = parseCIDR(text);
  if (!range || range.prefix > bits(range.family) - 2)
    throw new UserError(
      formatFieldError(
        invalid(field, text, 'must be an IPv4 or IPv6 CIDR with room for at least 2 addresses'),
      ),
    );
  return { family: familyName(range.family), range, text };
}

/** The address `ip` (text) lies in the clusterset CIDR. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const parsed = parseIP(ip);
  return parsed !== undefined && rangeContains(cidr.range, parsed);
}

/** Usable offsets exclude the network address and the last address (v4 broadcast). */
function size(cidr: Cidr): bigint {
  return (1n << BigInt(bits(cidr.range.family) - cidr.range.prefix)) - 2n;
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
  const { family, network: base } = cidr.range;
  const text = (value: bigint) => formatIP({ family, value });
  const taken = new Set<bigint>();
  const result = new Map<string, string>();
  for (const key of sorted) {
    const ip = (existing.get(key) ?? [])
      .map((a) => parseIP(a))
      .find((a) => a && rangeContains(cidr.range, a));
    if (ip === undefined) continue;
    const n = ip.value;
    if (taken.has(n) || n === base || n === base + size(cidr) + 1n) continue;
    taken.add(n);
    result.set(key, text(n));
  }
  const total = size(cidr);
  for (const key of sorted) {
    if (result.has(key)) continue;
    if (BigInt(taken.size) >= total)
      throw new KosmosError(`clusterset CIDR ${cidr.text} is full: cannot allocate a VIP for ${key}`);
    let offset = hashOffset(key, total);
    while (taken.has(base + 1n + offset)) offset = (offset + 1n) % total;
    const n = base + 1n + offset;
    taken.add(n);
    result.set(key, text(n));
  }
  return result;
}
