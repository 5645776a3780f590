/**
 * ClusterLink benchmarks: network-manager compute time (pure core), agent apply time
 * against `ip`/`bridge` per entry and `ip -batch` on the same kernel in the same run, the
 * no-change resync, and TCP throughput across clusters through the tunnel against a plain
 * veth pair. Needs root (network namespaces) and iperf3.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, ClusterNode } from '../api/kinds.js';
import { type ApplyBenchResult, benchDevice, benchEntries } from '../clusterlink/agent/apply-bench.js';
import { run } from '../clusterlink/exec.js';
import { parseLabConfig } from '../clusterlink/lab/config.js';
import { daemonCommand, labDown, labPlan, labUp } from '../clusterlink/lab/lab.js';
import { computeNodeConfigs } from '../clusterlink/netconfig/compute.js';
import type { BenchRow } from './types.js';
import { KosmosError } from '../common/errors.js';

const SUITE = 'clusterlink';
const ENTRIES = 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function syntheticNetwork(clusters: number, nodes: number, type: 'p2p' | 'gateway') {
  const cs: Cluster[] = [];
  const ns: ClusterNode[] = [];
  for (let c = 0; c < clusters; c++) {
    cs.push({
      apiVersion: 'kosmos.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name: `c${c}` },
      spec: { clusterLinkOptions: { networkType: type, ipFamily: 'ipv4' } },
      status: { clusterLinkStatus: { podCIDRs: [`10.${c}.0.0/16`], serviceCIDRs: [`172.16.${c}.0/24`] } },
    });
    for (let n = 0; n < nodes; n++)
      ns.push({
        apiVersion: 'kosmos.io/v1alpha1',
        kind: 'ClusterNode',
        metadata: { name: `c${c}-n${n}` },
        spec: {
          clusterName: `c${c}`,
          nodeName: `n${n}`,
          interfaceName: 'eth0',
          ip: `192.${c}.${n >> 8}.${n & 255}`,
          podCIDRs: [`10.${c}.${n}.0/24`],
          roles: n === 0 ? ['gateway'] : [],
        },
      });
  }
  return { clusters: cs, clusterNodes: ns };
}

function computeRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [clusters, nodes, type, label] of [
    [20, 50, 'gateway', 'compute 20 clusters x 50 nodes (gateway)'],
    [10, 100, 'p2p', 'compute 1000 bridge nodes (p2p, 10 x 100)'],
  ] as const) {
    const input = syntheticNetwork(clusters, nodes, type);
    const times: number[] = [];
    for (let i = 0; i < (type === 'p2p' ? 1 : 5); i++) {
      const t0 = performance.now();
      computeNodeConfigs(input);
      times.push(performance.now() - t0);
    }
    rows.push({ suite: SUITE, metric: label, value: median(times), unit: 'ms' });
  }
  return rows;
}

async function withNodeNs<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `klbench${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    await run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'eth1', 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', '192.168.255.1/16', 'dev', 'eth0']);
    return await fn(ns);
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

/** The vx-bridge the agent would create, made with `ip` for the command-line contenders. */
async function ipDevice(ns: string): Promise<void> {
  const d = benchDevice;
  await run('ip', [
    '-n',
    ns,
    'link',
    'add',
    d.name,
    'address',
    d.mac,
    'mtu',
    '1450',
    'type',
    'vxlan',
    'id',
    String(d.id),
    'dstport',
    String(d.port),
    'dev',
    d.bindDev,
    'local',
    '192.168.255.1',
    'nolearning',
  ]);
  await run('ip', ['-n', ns, 'addr', 'add', d.addr, 'dev', d.name]);
  await run('ip', ['-n', ns, 'link', 'set', d.name, 'up']);
}

function commands(n: number): { ip: string[][]; bridge: string[][] } {
  const e = benchEntries(n);
  return {
    ip: [
      ...e.routes.map((r) => ['route', 'add', r.cidr, 'via', r.gw, 'dev', r.dev, 'onlink', 'table', '200']),
      ...e.arps.map((a) => ['neigh', 'replace', a.ip, 'lladdr', a.mac, 'dev', a.dev, 'nud', 'permanent']),
    ],
    bridge: e.fdbs.map((f) => ['fdb', 'append', f.mac, 'dev', f.dev, 'dst', f.ip, 'self', 'permanent']),
  };
}

async function applyRows(): Promise<BenchRow[]> {
  const { cmd, args } = daemonCommand();
  const agent = await withNodeNs(async (ns) => {
    const out = await run('ip', [
      'netns',
      'exec',
      ns,
      cmd,
      ...args,
      'apply-bench',
      '--name',
      String(ENTRIES),
    ]);
    return JSON.parse(out) as ApplyBenchResult;
  });
  const perCommand = await withNodeNs(async (ns) => {
    await ipDevice(ns);
    const c = commands(ENTRIES);
    const t0 = performance.now();
    for (const a of c.ip) await run('ip', ['-n', ns, ...a]);
    for (const a of c.bridge) await run('bridge', ['-n', ns, ...a]);
    return performance.now() - t0;
  });
  const batch = await withNodeNs(async (ns) => {
    await ipDevice(ns);
    const c = commands(ENTRIES);
    const t0 = performance.now();
    await run('ip', ['-n', ns, '-batch', '-'], `${c.ip.map((a) => a.join(' ')).join('\n')}\n`);
    await run('bridge', ['-n', ns, '-batch', '-'], `${c.bridge.map((a) => a.join(' ')).join('\n')}\n`);
    return performance.now() - t0;
  });
  const label = `agent apply ${ENTRIES} routes + ${ENTRIES} FDB + ${ENTRIES} ARP`;
  const noChange = median(agent.noChangeMs);
  return [
    {
      suite: SUITE,
      metric: `${label}: full sync (read, diff, write) vs one command per entry`,
      value: agent.applyMs,
      unit: 'ms',
      baseline: { name: 'ip/bridge per entry', value: perCommand },
      ratio: perCommand / agent.applyMs,
      target: '>= 10x faster',
      met: perCommand / agent.applyMs >= 10 && agent.applyErrors === 0,
    },
    {
      suite: SUITE,
      metric: `${label}: writes only vs ip -batch`,
      value: agent.writeMs,
      unit: 'ms',
      baseline: { name: 'ip -batch + bridge -batch', value: batch },
      ratio: agent.writeMs / batch,
      target: '<= 2x ip -batch',
      met: agent.writeMs <= 2 * batch && agent.applyErrors === 0,
    },
    {
      suite: SUITE,
      metric: `${label}: full sync vs ip -batch (writes only)`,
      value: agent.applyMs,
      unit: 'ms',
      baseline: { name: 'ip -batch + bridge -batch', value: batch },
      ratio: agent.applyMs / batch,
    },
    {
      suite: SUITE,
      metric: `no-change resync with ${3 * ENTRIES} entries (median of 9)`,
      value: noChange,
      unit: 'ms',
      target: '< 50 ms',
      met: noChange < 50,
    },
  ];
}

async function iperf(clientNs: string, serverNs: string, serverIp: string, seconds: number): Promise<number> {
  await run('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-D', '-p', '5299']);
  await new Promise((r) => setTimeout(r, 300));
  const out = await run('ip', [
    'netns',
    'exec',
    clientNs,
    'iperf3',
    '-c',
    serverIp,
    '-p',
    '5299',
    '-t',
    String(seconds),
    '-J',
  ]);
  const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } } };
  return (j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
}

/**
 * Tunnel and direct runs alternate (3 rounds of 3 s, median of each) so that load from other
 * processes on a shared machine hits both sides alike.
 */
async function throughputRows(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kosmos-bench-lab-'));
  const s = randomBytes(2).toString('hex');
  const x = `klbx${s}`;
  const y = `klby${s}`;
  const tunnel: number[] = [];
  const direct: number[] = [];
  try {
    const state = await labUp(
      parseLabConfig(`
clusters:
  - {name: x${s}, networkType: p2p, ipFamily: ipv4, podCIDRs: [10.233.64.0/18], serviceCIDRs: [10.233.0.0/18], nodes: [{name: n1, podCIDRs: [10.233.64.0/24]}]}
  - {name: y${s}, networkType: p2p, ipFamily: ipv4, podCIDRs: [10.234.64.0/18], serviceCIDRs: [10.234.0.0/18], nodes: [{name: n1, podCIDRs: [10.234.64.0/24]}]}
`),
      { stateDir: dir },
    );
    const [a, b] = labPlan(state).clusters.map((c) => c.nodes[0]);
    if (!a || !b || !b.pod[4]) throw new KosmosError('bench lab has no pods');
    // Baseline: two namespaces joined by one veth pair, same MTU as the lab's pods.
    await run('ip', ['netns', 'add', x]);
    await run('ip', ['netns', 'add', y]);
    await run('ip', [
      '-n',
      x,
      'link',
      'add',
      'eth0',
      'mtu',
      '1400',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'mtu',
      '1400',
      'netns',
      y,
    ]);
    await run('ip', ['-n', x, 'addr', 'add', '10.99.0.1/24', 'dev', 'eth0']);
    await run('ip', ['-n', y, 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0']);
    await run('ip', ['-n', x, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', y, 'link', 'set', 'eth0', 'up']);
    for (let round = 0; round < 3; round++) {
      tunnel.push(await iperf(a.podNs, b.podNs, b.pod[4], 3));
      direct.push(await iperf(x, y, '10.99.0.2', 3));
    }
  } finally {
    await labDown({ stateDir: dir }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    for (const ns of [x, y]) {
      const pids = await run('ip', ['netns', 'pids', ns]).catch(() => '');
      for (const p of pids.split('\n').filter(Boolean)) process.kill(Number(p), 'SIGKILL');
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  }
  const t = median(tunnel);
  const d = median(direct);
  return [
    {
      suite: SUITE,
      metric: 'TCP pod-to-pod across clusters (vxlan; iperf3, median of 3 x 3 s)',
      value: t,
      unit: 'Gbit/s',
      baseline: { name: 'direct veth pair', value: d },
      ratio: t / d,
      target: '>= 0.8 of direct',
      met: t / d >= 0.8,
    },
  ];
}

export async function benchClusterlink(): Promise<BenchRow[]> {
  return [...computeRows(), ...(await applyRows()), ...(await throughputRows())];
}
