/**
 * Agent apply measurement, run inside a network namespace (netlink acts on the caller's
 * namespace): create vx-bridge, then time applying N routes + N FDB + N ARP entries through
 * the agent's diff and rtnetlink path, then time a resync that finds nothing to change.
 */
import type { Device, NodeConfigSpec } from '../../api/kinds.js';
import { canonicalSpec, diff, emptyPlan, natFamilies } from './diff.js';
import { KernelHost } from './kernel-host.js';
import { KosmosError } from '../../common/errors.js';

export interface ApplyBenchResult {
  entries: number;
  /** Whole sync: read the node, diff, write. */
  applyMs: number;
  /** The writes alone (what `ip -batch` does). */
  writeMs: number;
  applyErrors: number;
  noChangeMs: number[];
}

const benchNat = [
  { table: 'nat', chain: 'POSTROUTING', rule: '-s 210.0.0.0/8 -o vx-bridge -j MASQUERADE' },
  { table: 'nat', chain: 'POSTROUTING', rule: '-s 220.0.0.0/8 -j MASQUERADE' },
];

export const benchDevice: Device = {
  type: 'vxlan',
  name: 'vx-bridge',
  addr: '220.0.0.1/8',
  mac: '02:00:00:00:00:01',
  bindDev: 'eth0',
  id: 54,
  port: 4876,
};

/** The same N routes, FDB and ARP entries for every contender of the benchmark. */
export function benchEntries(n: number): Required<Pick<NodeConfigSpec, 'routes' | 'fdbs' | 'arps'>> {
  const hi = (i: number) => (i >> 8) & 0xff;
  const lo = (i: number) => i & 0xff;
  const hex = (x: number) => x.toString(16).padStart(2, '0');
  const routes = [];
  const fdbs = [];
  const arps = [];
  for (let i = 0; i < n; i++) {
    const mac = `02:00:00:01:${hex(hi(i))}:${hex(lo(i))}`;
    routes.push({ cidr: `10.${hi(i)}.${lo(i)}.0/24`, gw: `220.1.${hi(i)}.${lo(i) || 1}`, dev: 'vx-bridge' });
    fdbs.push({ ip: `192.168.${hi(i)}.${lo(i)}`, mac, dev: 'vx-bridge' });
    arps.push({ ip: `220.2.${hi(i)}.${lo(i)}`, mac, dev: 'vx-bridge' });
  }
  return { routes, fdbs, arps };
}

export async function runApplyBench(n: number, inFlight?: number): Promise<ApplyBenchResult> {
  const host = new KernelHost({ inFlight });
  try {
    const deviceOnly = canonicalSpec({ devices: [benchDevice] }).spec;
    await host.apply(diff(deviceOnly, await host.load()));
    // A gateway-like node: NAT rules too, so the resync reads iptables as a real one does.
    const want = canonicalSpec({ devices: [benchDevice], ...benchEntries(n), iptables: benchNat }).spec;
    const fams = natFamilies(want);
    const t0 = performance.now();
    const plan = diff(want, await host.load(fams));
    const t1 = performance.now();
    const errors = await host.apply(plan);
    const t2 = performance.now();
    const applyMs = t2 - t0;
    const writeMs = t2 - t1;
    const noChangeMs: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t = performance.now();
      const p = diff(want, await host.load(fams));
      noChangeMs.push(performance.now() - t);
      if (!emptyPlan(p)) throw new KosmosError('a resync after a complete apply found changes to make');
    }
    return { entries: n, applyMs, writeMs, applyErrors: errors.length, noChangeMs };
  } finally {
    host.close();
  }
}
