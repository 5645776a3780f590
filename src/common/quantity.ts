/**
 * Kubernetes resource.Quantity parsing ("1500m", "2", "4Gi", "1e3", "100M", ".5").
 *
 * Results are integers, rounded up as Kubernetes does (Quantity.MilliValue / Value round
 * towards +infinity), so a request never looks smaller than it is. Parsing is exact (BigInt
 * rational arithmetic) and memoised, because the same few strings ("100m", "1Gi") arrive
 * with every pod and node.
 */
import { QuantityError } from './errors.js';

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const QUANTITY = /^([+-]?)(\d+\.?\d*|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/;

/** value = num / den, exact. */
interface Rational {
  num: bigint;
  den: bigint;
}

function parseRational(input: string): Rational {
  const m = QUANTITY.exec(input.trim());
  if (!m) throw new QuantityError(input);
  const [, sign, digits = '', binary, exponent, decimal] = m;
  const [intPart = '', fracPart = ''] = digits.split('.');
  let num = BigInt((intPart || '0') + fracPart);
  let den = 10n ** BigInt(fracPart.length);
  if (sign === '-') num = -num;
  if (binary) {
    num *= BINARY[binary] as bigint;
  } else {
    const exp = exponent ? Number.parseInt(exponent.slice(1), 10) : (DECIMAL[decimal ?? ''] ?? 0);
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  return { num, den };
}

function ceilDiv(num: bigint, den: bigint): bigint {
  const q = num / den;
  return num % den !== 0n && num > 0n ? q + 1n : q;
}

const milliCache = new Map<string, number>();
const unitCache = new Map<string, number>();

/** The quantity in thousandths, rounded up: "1500m" → 1500, "2" → 2000, "0.1" → 100. */
export function parseMilli(q: string | number): number {
  if (typeof q === 'number') return Math.ceil(q * 1000);
  let v = milliCache.get(q);
  if (v === undefined) {
    const r = parseRational(q);
    v = Number(ceilDiv(r.num * 1000n, r.den));
    if (milliCache.size < 10_000) milliCache.set(q, v);
  }
  return v;
}

/** The quantity in whole units, rounded up: "4Gi" → 4294967296, "100M" → 100000000, "1500m" → 2. */
export function parseUnits(q: string | number): number {
  if (typeof q === 'number') return Math.ceil(q);
  let v = unitCache.get(q);
  if (v === undefined) {
    const r = parseRational(q);
    v = Number(ceilDiv(r.num, r.den));
    if (unitCache.size < 10_000) unitCache.set(q, v);
  }
  return v;
}

/**
 * The scheduler's unit for a resource: milli-cores for cpu, whole units (bytes, pods,
 * devices) for everything else, which is how kube-scheduler compares requests.
 */
export function parseResource(resource: string, q: string | number): number {
  return resource === 'cpu' ? parseMilli(q) : parseUnits(q);
}

/** Human form for messages: cpu as "1500m" or "2", bytes as "1536Mi", others plain. */
export function formatResource(resource: string, amount: number): string {
  if (resource === 'cpu') return amount % 1000 === 0 ? String(amount / 1000) : `${amount}m`;
  if (resource === 'memory' || resource === 'ephemeral-storage' || resource.startsWith('hugepages-')) {
    for (const [suffix, size] of [
      ['Gi', 2 ** 30],
      ['Mi', 2 ** 20],
      ['Ki', 2 ** 10],
    ] as const) {
      if (amount >= size && amount % size === 0) return `${amount / size}${suffix}`;
    }
    if (amount >= 2 ** 20) return `${Math.floor(amount / 2 ** 20)}Mi`;
  }
  return String(amount);
}
