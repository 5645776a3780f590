/**
 * The one IP and CIDR library of Kosmos: the webhooks validate a Cluster's CIDRs with the
 * same parser ClusterLink computes routes with and MCS allocates clusterset IPs from.
 * Addresses are bigints, so IPv4 and IPv6 share one code path, and results print exactly as
 * the kernel and iptables print them (network address, RFC 5952 compressed IPv6).
 *
 * One error convention: `parseIP`/`parseCIDR` answer undefined for what does not parse;
 * `ipProblem`/`cidrProblem` say why; `checkCIDR`/`checkIP` turn that into the field error of
 * the field it came from, and `requireCIDR`/`requireIP` throw it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatFieldError, invalid, type FieldError } from '../api/field-errors.js';
import { UserError } from './errors.js';

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

/** The family as the Kubernetes API spells it (Service spec.ipFamilies). */
export const familyName = (f: Family): 'IPv4' | 'IPv6' => (f === 4 ? 'IPv4' : 'IPv6');

const v4Value = (s: string): bigint => s.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);

/** An IPv4 or IPv6 address in any valid spelling (upper case, leading zeros, `::`, a dotted IPv4 tail); no zone. */
export function parseIP(s: string): IP | undefined {
  if (isIPv4(s)) return { family: 4, value: v4Value(s) };
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    if (!isIPv4(dotted[1])) return undefined;
    const v4 = v4Value(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  if (tail !== undefined && missing < 1) return undefined;
  const groups = tail === undefined ? h : [...h, ...Array<string>(missing).fill('0'), ...t];
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

/** Why `s` is not an IP address; undefined when it is one. */
export function ipProblem(s: string): string | undefined {
  return parseIP(s) ? undefined : 'must be an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1';
}

/** Why `s` is not a CIDR; undefined when it is one. Host bits may be set (10.0.0.1/8 is 10.0.0.0/8). */
export function cidrProblem(s: string): string | undefined {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? undefined : parseIP(s.slice(0, slash));
  if (!ip) return 'must be a CIDR such as 10.0.0.0/16 or fd00::/64';
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p)) return 'prefix length must be a decimal number';
  const max = bits(ip.family);
  if (Number(p) > max) return `prefix length must be at most ${max} for an IPv${ip.family} CIDR`;
  return undefined;
}

export function parseCIDR(s: string): CIDR | undefined {
  if (cidrProblem(s) !== undefined) return undefined;
  const slash = s.indexOf('/');
  const ip = parseIP(s.slice(0, slash)) as IP;
  const prefix = Number(s.slice(slash + 1));
  return { family: ip.family, network: ip.value & mask(ip.family, prefix), prefix };
}

/** The field error for a value at `field` that is not a CIDR; undefined when it is one. */
export function checkCIDR(field: string, value: string): FieldError | undefined {
  const problem = cidrProblem(value);
  return problem === undefined ? undefined : invalid(field, value, problem);
}

export function checkIP(field: string, value: string): FieldError | undefined {
  const problem = ipProblem(value);
  return problem === undefined ? undefined : invalid(field, value, problem);
}

/** The CIDR at `field` (a flag, a config key); a UserError naming the field when it is not one. */
export function requireCIDR(field: string, value: string): CIDR {
  const e = checkCIDR(field, value);
  if (e) throw new UserError(formatFieldError(e));
  return parseCIDR(value) as CIDR;
}

export function requireIP(field: string, value: string): IP {
  const e = checkIP(field, value);
  if (e) throw new UserError(formatFieldError(e));
  return parseIP(value) as IP;
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP({ family: c.family, value: c.network })}/${c.prefix}`;
}

/** `10.237.6.0/18` → `10.237.0.0/18`; undefined when unparsable. */
export function normalizeCIDR(s: string): string | undefined {
  const c = parseCIDR(s);
  return c ? formatCIDR(c) : undefined;
}

/** `inner` (a CIDR or an address) lies inside `outer`. Different families never do. */
export function cidrContains(outer: CIDR, inner: CIDR | IP): boolean {
  const network = 'network' in inner ? inner.network : inner.value;
  const prefix = 'prefix' in inner ? inner.prefix : bits(inner.family);
  return (
    outer.family === inner.family &&
    outer.prefix <= prefix &&
    (network & mask(outer.family, outer.prefix)) === outer.network
  );
}

/** Two CIDRs share an address iff one contains the other. */
export function cidrsOverlap(a: CIDR, b: CIDR): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** Same network and prefix, whatever the spelling (10.0.0.1/8 and 10.0.0.0/8 are equal). */
export function cidrsEqual(a: CIDR, b: CIDR): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.network === b.network;
}

/** Keep the prefix bits of `within`, take the host bits from `host`: how a VTEP address is derived. */
export function graft(host: IP, within: CIDR): IP {
  const m = mask(within.family, within.prefix);
  const full = (1n << BigInt(bits(within.family))) - 1n;
  return { family: within.family, value: within.network | (host.value & (full ^ m)) };
}

export function firstHost(c: CIDR): IP {
  // A /32 or /128 has only itself; otherwise skip the network address.
  const off = c.prefix >= bits(c.family) - 1 ? 0n : 1n;
  return { family: c.family, value: c.network + off };
}
