/**
 * `kosmosctl lab up | check | down`: ClusterLink on one Linux machine. Each node is a network
 * namespace on a shared underlay bridge with one pod namespace behind it; a real agent (with
 * its elector) runs in every node namespace, the network manager and Redis in the root one.
 * Every name and pid is written to the state file *before* it is created, so `down` can
 * remove everything even after a crash half-way through `up`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KosmosError, UserError, describeError } from '../../common/errors.js';
import { freePort } from '../../common/ports.js';
import { clusterLinkStatusFor, clusterNodeFor } from '../controller/cluster-node.js';
import { run } from '../exec.js';
import type { Family } from '../../common/ip.js';
import { RedisStore } from '../store/redis-store.js';
import type { LabConfig } from './config.js';
import {
  LAB_PORT,
  type LabPlan,
  type PlannedNode,
  type Target,
  checkTargets,
  globalIP,
  planLab,
} from './topology.js';

export const defaultStateDir = (): string => process.env['KOSMOS_LAB_DIR'] ?? '/run/kosmos-lab';
const POD_MTU = 1400; // below vx-*-6's 1500 - 70, so pods never need PMTU discovery through the tunnel
const SERVICE_CHAIN = 'KLAB-SVC';
const POD_GATEWAY_MAC = 'ee:ee:ee:ee:ee:ee';
const SERVICE_MASQ_CHAIN = 'KLAB-SVC-MASQ';

export interface LabState {
  id: string;
  prefix: string;
  config: LabConfig;
  subnetIndex: number;
  namespaces: string[];
  rootLinks: string[];
  redis?: { pid: number; port: number };
  manager?: { pid: number };
  nodes: Record<string, { pid?: number }>;
  managerResyncMs?: number;
  nodeResyncMs?: number;
}

export interface LabOptions {
  stateDir?: string;
  /** Network manager full-recompute period (tests set it long so a hand-written NodeConfig stays). */
  managerResyncMs?: number;
  /** Agent resync (drift repair) period. */
  nodeResyncMs?: number;
  log?: (line: string) => void;
}

const statePath = (dir: string) => join(dir, 'state.json');

export async function readState(dir = defaultStateDir()): Promise<LabState | undefined> {
  if (!existsSync(statePath(dir))) return undefined;
  return JSON.parse(await readFile(statePath(dir), 'utf8')) as LabState;
}

async function saveState(dir: string, s: LabState): Promise<void> {
  await writeFile(statePath(dir), JSON.stringify(s, null, 2));
}

export const labPlan = (s: LabState): LabPlan => planLab(s.config, s.id, s.subnetIndex);
export const redisUrlFor = (s: LabState, host: string): string => {
  const h = host.includes(':') ? `[${host}]` : host;
  return `redis://${h}:${s.redis?.port ?? 0}`;
};

/** How to start a ClusterLink daemon: the built entry, or the TypeScript source with the resolve hook. */
export function daemonCommand(): { cmd: string; args: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return {
      cmd: process.execPath,
      args: [
        '--import',
        fileURLToPath(new URL('./dev/ts-hook.mjs', here)),
        fileURLToPath(new URL('../main.ts', here)),
      ],
    };
  }
  return { cmd: process.execPath, args: [fileURLToPath(new URL('../main.js', here))] };
}

const ip = (...args: string[]) => run('ip', args);
const inNs = (ns: string, cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args]);

function startDetached(cmd: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  // cwd = the lab's state directory, so anyone can tell a lab process from another Redis or node.
  const p = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], cwd: dirname(logFile) });
  closeSync(fd);
  p.unref();
  return p;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new KosmosError(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${describeError(last)}` : ''}`,
  );
}

export async function labUp(config: LabConfig, o: LabOptions = {}): Promise<LabState> {
  const dir = o.stateDir ?? defaultStateDir();
  const log = o.log ?? (() => undefined);
  await mkdir(dir, { recursive: true });
  const existing = await readState(dir);
  if (existing)
    throw new UserError(`a lab is already up (state in ${dir}); run \`kosmosctl lab down\` first`);
  // Logs of a previous lab stay after `down` for a post-mortem; a new lab starts them afresh.
  for (const f of await readdir(dir)) if (f.endsWith('.log')) await rm(join(dir, f), { force: true });
  const id = `kl${randomBytes(3).toString('hex')}`;
  const state: LabState = {
    id,
    prefix: `kosmos-lab-${id}`,
    config,
    subnetIndex: randomBytes(1)[0] ?? 0,
    namespaces: [],
    rootLinks: [],
    nodes: {},
    ...(o.managerResyncMs ? { managerResyncMs: o.managerResyncMs } : {}),
    ...(o.nodeResyncMs ? { nodeResyncMs: o.nodeResyncMs } : {}),
  };
  const plan = labPlan(state);
  const all = plan.clusters.flatMap((c) => c.nodes);
  for (const n of all) {
    if (n.ns.length > 200) throw new UserError(`namespace name ${n.ns} is too long`);
  }
  const taken = new Set((await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]));
  const clash = all.flatMap((n) => [n.ns, n.podNs]).find((n) => taken.has(n));
  if (clash) throw new UserError(`network namespace ${clash} already exists`);
  state.namespaces = all.flatMap((n) => [n.ns, n.podNs]);
  state.rootLinks = [plan.bridge, ...all.map((n) => n.rootVeth)];
  await saveState(dir, state);
  try {
    await bringUp(dir, state, plan, o, log);
  } catch (err) {
    // Leave nothing half-made: everything created so far is in the state file.
    await labDown({ stateDir: dir }).catch(() => undefined);
    throw err;
  }
  return state;
}

async function bringUp(
  dir: string,
  state: LabState,
  plan: LabPlan,
  o: LabOptions,
  log: (line: string) => void,
): Promise<void> {
  const all = plan.clusters.flatMap((c) => c.nodes);
  log(`lab ${state.id}: underlay ${plan.subnet[4]} ${plan.subnet[6]} on bridge ${plan.bridge}`);
  await ip('link', 'add', plan.bridge, 'type', 'bridge');
  await ip('addr', 'add', `${plan.root[4]}/24`, 'dev', plan.bridge);
  await ip('-6', 'addr', 'add', `${plan.root[6]}/64`, 'dev', plan.bridge, 'nodad');
  await ip('link', 'set', plan.bridge, 'up');

  // Redis for the control plane, reachable from the node namespaces over the underlay.
  const port = await freePort();
  const redis = startDetached(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      plan.root[4],
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
    ],
    join(dir, 'redis.log'),
  );
  state.redis = { pid: redis.pid ?? 0, port };
  await saveState(dir, state);
  const store = new RedisStore(redisUrlFor(state, '127.0.0.1'), state.prefix);
  try {
    await waitFor('redis', 10_000, async () => ((await store.redis.ping()) === 'PONG' ? true : undefined));
    for (const c of plan.clusters) for (const n of c.nodes) await createNode(plan, n, c.families);
    for (const n of all) state.nodes[`${n.podNs}`] = { pid: startPodServer(dir, n.podNs) };
    await saveState(dir, state);
    for (const c of plan.clusters) await emulateCni(plan, c.config.name);

    // The controller's writes: Clusters with their status, ClusterNodes with IPs and NIC.
    for (const c of plan.clusters) {
      await store.putCluster({
        apiVersion: 'kosmos.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: c.config.name },
        spec: {
          clusterLinkOptions: {
            enable: true,
            networkType: c.config.networkType,
            ipFamily: c.config.ipFamily,
            globalCIDRsMap: c.config.globalCIDRsMap,
            serviceCIDRs: c.config.serviceCIDRs,
          },
        },
        status: { clusterLinkStatus: clusterLinkStatusFor(c.config.podCIDRs, c.config.serviceCIDRs) },
      });
      for (const n of c.nodes) {
        await store.putClusterNode(
          clusterNodeFor(c.config.name, {
            name: n.node,
            podCIDRs: c.config.nodes.find((x) => x.name === n.node)?.podCIDRs ?? [],
            interfaceName: 'eth0',
            ...(c.families.includes(4) ? { ip: n.underlay[4] } : {}),
            ...(c.families.includes(6) ? { ip6: n.underlay[6] } : {}),
          }),
        );
      }
    }
    const { cmd, args } = daemonCommand();
    const manager = startDetached(
      cmd,
      [
        ...args,
        'network-manager',
        '--redis',
        redisUrlFor(state, '127.0.0.1'),
        '--prefix',
        state.prefix,
        ...(o.managerResyncMs ? ['--resync-ms', String(o.managerResyncMs)] : []),
      ],
      join(dir, 'network-manager.log'),
    );
    state.manager = { pid: manager.pid ?? 0 };
    await saveState(dir, state);
    for (const n of all) await startNode(dir, state, n.ns);
    await waitReady(
      store,
      all.map((n) => n.ns),
      90_000,
    );
    for (const c of plan.clusters) for (const n of c.nodes) await emulateServices(plan, c.config.name, n);
    log(`lab ${state.id}: ${all.length} nodes in ${plan.clusters.length} clusters are up`);
  } finally {
    await store.close();
  }
}

async function createNode(plan: LabPlan, n: PlannedNode, families: Family[]): Promise<void> {
  await ip('netns', 'add', n.ns);
  await ip('netns', 'add', n.podNs);
  await ip('link', 'add', n.rootVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns);
  await ip('link', 'set', n.rootVeth, 'master', plan.bridge, 'up');
  const sys = (...kv: string[]) => inNs(n.ns, 'sysctl', '-qw', ...kv);
  // Kubernetes nodes forward; replies through a gateway come back on another device than the
  // route out, so strict reverse-path filtering must be off (as kube-proxy/CNIs arrange).
  await sys(
    'net.ipv4.ip_forward=1',
    'net.ipv6.conf.all.forwarding=1',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
  );
  const nip = (...args: string[]) => ip('-n', n.ns, ...args);
  await nip('link', 'set', 'lo', 'up');
  await nip('addr', 'add', `${n.underlay[4]}/24`, 'dev', 'eth0');
  await nip('-6', 'addr', 'add', `${n.underlay[6]}/64`, 'dev', 'eth0', 'nodad');
  await nip('link', 'set', 'eth0', 'up');
  // The pod: Calico-style, a /32 (/128) behind a veth with a link-local next hop answered by proxy ARP.
  await nip(
    'link',
    'add',
    'pod0',
    'address',
    POD_GATEWAY_MAC,
    'mtu',
    String(POD_MTU),
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'mtu',
    String(POD_MTU),
    'netns',
    n.podNs,
  );
  await inNs(n.ns, 'sysctl', '-qw', 'net.ipv4.conf.pod0.proxy_arp=1', 'net.ipv4.conf.pod0.rp_filter=0');
  await nip('-6', 'addr', 'add', 'fe80::1/64', 'dev', 'pod0', 'nodad');
  await nip('link', 'set', 'pod0', 'up');
  const pip = (...args: string[]) => ip('-n', n.podNs, ...args);
  await pip('link', 'set', 'lo', 'up');
  await pip('link', 'set', 'eth0', 'up');
  await inNs(n.podNs, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.eth0.accept_dad=0');
  if (families.includes(4) && n.pod[4]) {
    await pip('addr', 'add', `${n.pod[4]}/32`, 'dev', 'eth0');
    await pip('route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
    // A static neighbour instead of proxy ARP: the node has no default route to make proxy ARP answer.
    await pip(
      'neigh',
      'replace',
      '169.254.1.1',
      'lladdr',
      POD_GATEWAY_MAC,
      'dev',
      'eth0',
      'nud',
      'permanent',
    );
    await pip('route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
    await nip('route', 'add', `${n.pod[4]}/32`, 'dev', 'pod0');
  }
  if (families.includes(6) && n.pod[6]) {
    await pip('-6', 'addr', 'add', `${n.pod[6]}/128`, 'dev', 'eth0', 'nodad');
    await pip('-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0');
    await nip('-6', 'route', 'add', `${n.pod[6]}/128`, 'dev', 'pod0');
  }
}

/**
 * The pod's workload: a TCP server that accepts any number of concurrent connections
 * and survives clients that reset (iperf3 -s serves one client at a time, so concurrent
 * checks of one service pod failed).
 */
const POD_SERVER = `require('node:net').createServer((s) => { s.on('error', () => {}); s.end('ok'); }).listen(Number(process.argv[1]), '::');`;

function startPodServer(dir: string, podNs: string): number {
  const p = startDetached(
    'ip',
    ['netns', 'exec', podNs, process.execPath, '-e', POD_SERVER, String(LAB_PORT)],
    join(dir, `${podNs}.log`),
  );
  return p.pid ?? 0;
}

/** What the CNI does inside a cluster: every node routes every other node's pod CIDRs over the underlay. */
async function emulateCni(plan: LabPlan, cluster: string): Promise<void> {
  const c = plan.clusters.find((x) => x.config.name === cluster);
  if (!c) return;
  for (const n of c.nodes)
    for (const m of c.nodes) {
      if (m === n) continue;
      for (const cidr of c.config.nodes.find((x) => x.name === m.node)?.podCIDRs ?? []) {
        const f: Family = cidr.includes(':') ? 6 : 4;
        if (!c.families.includes(f)) continue;
        await ip(
          '-n',
          n.ns,
          ...(f === 6 ? ['-6'] : []),
          'route',
          'replace',
          cidr,
          'via',
          m.underlay[f],
          'dev',
          'eth0',
        );
      }
    }
}

/**
 * What kube-proxy does: the service IP DNATs to one pod of the cluster, masqueraded so the
 * reply comes back through this node. The lab's chain goes before CLUSTERLINK-PREROUTING and
 * also answers the service's global IP: a NETMAP and a DNAT cannot both apply in one hook, so
 * a mapped service needs the service proxy to know its global IP.
 */
async function emulateServices(plan: LabPlan, cluster: string, n: PlannedNode): Promise<void> {
  const c = plan.clusters.find((x) => x.config.name === cluster);
  if (!c) return;
  for (const f of c.families) {
    const svc = c.service[f];
    if (!svc) continue;
    const dests = [...new Set([svc.ip, globalIP(svc.ip, c.config)])];
    const to = f === 6 ? `[${svc.target}]` : svc.target;
    const lines = ['*nat', `:${SERVICE_CHAIN} - [0:0]`, `:${SERVICE_MASQ_CHAIN} - [0:0]`];
    for (const d of dests) lines.push(`-A ${SERVICE_CHAIN} -d ${d} -j DNAT --to-destination ${to}`);
    lines.push(`-A ${SERVICE_MASQ_CHAIN} -m conntrack --ctstate DNAT --ctorigdst ${svc.ip} -j MASQUERADE`);
    if (dests.length > 1)
      lines.push(
        `-A ${SERVICE_MASQ_CHAIN} -m conntrack --ctstate DNAT --ctorigdst ${dests[1]} -j MASQUERADE`,
      );
    lines.push(
      `-I PREROUTING 1 -j ${SERVICE_CHAIN}`,
      `-A POSTROUTING -j ${SERVICE_MASQ_CHAIN}`,
      'COMMIT',
      '',
    );
    await run(
      'ip',
      ['netns', 'exec', n.ns, f === 4 ? 'iptables-restore' : 'ip6tables-restore', '--noflush'],
      lines.join('\n'),
    );
  }
}

async function waitReady(store: RedisStore, names: string[], timeoutMs: number): Promise<void> {
  await waitFor(`every agent to apply its NodeConfig (${names.join(', ')})`, timeoutMs, async () => {
    const configs = await store.listNodeConfigs();
    if (configs.length < names.length) return undefined;
    const ready = configs.every(
      (c) => c.status?.appliedGeneration === c.metadata.generation && !c.status?.error,
    );
    return ready ? true : undefined;
  });
}

/** Start (or restart) the agent + elector process of one node namespace. */
export async function startNode(dir: string, state: LabState, ns: string): Promise<number> {
  const n = labPlan(state)
    .clusters.flatMap((c) => c.nodes)
    .find((x) => x.ns === ns);
  if (!n) throw new UserError(`no node ${ns} in this lab`);
  const { cmd, args } = daemonCommand();
  const redisUrl = redisUrlFor(state, labPlan(state).root[4]);
  const p = startDetached(
    'ip',
    [
      'netns',
      'exec',
      ns,
      cmd,
      ...args,
      'agent',
      '--name',
      ns,
      '--elector',
      n.cluster,
      '--redis',
      redisUrl,
      '--prefix',
      state.prefix,
      ...(state.nodeResyncMs ? ['--resync-ms', String(state.nodeResyncMs)] : []),
    ],
    join(dir, `${ns}.log`),
  );
  state.nodes[ns] = { pid: p.pid ?? 0 };
  await saveState(dir, state);
  return p.pid ?? 0;
}

/** Stop a node's agent + elector; with `cut`, also take its underlay down, as if the machine died. */
export async function stopNode(
  dir: string,
  state: LabState,
  ns: string,
  o: { cut?: boolean; signal?: NodeJS.Signals } = {},
): Promise<void> {
  const pid = state.nodes[ns]?.pid;
  if (pid) await killAndWait(pid, o.signal ?? 'SIGTERM');
  state.nodes[ns] = {};
  await saveState(dir, state);
  if (o.cut) await ip('-n', ns, 'link', 'set', 'eth0', 'down');
}

async function killAndWait(pid: number, signal: NodeJS.Signals): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const end = Date.now() + 5_000;
  while (alive() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (alive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  // Zombies of our own children count as alive for kill(0); give the reaper a moment.
  await new Promise((r) => setTimeout(r, 20));
}

export interface CheckResult extends Target {
  icmp: boolean;
  tcp: boolean;
}

const PROBE = `
const { spawn } = require('node:child_process');
const net = require('node:net');
const targets = JSON.parse(process.argv[1]);
const port = Number(process.argv[2]);
const ping = (ip) => new Promise((r) => {
  const p = spawn('ping', [ip.includes(':') ? '-6' : '-4', '-c', '3', '-i', '0.2', '-W', '2', ip], { stdio: 'ignore' });
  p.on('close', (c) => r(c === 0));
  p.on('error', () => r(false));
});
const tcp = (ip) => new Promise((r) => {
  const s = net.connect({ host: ip, port, timeout: 3000 });
  s.on('connect', () => { s.destroy(); r(true); });
  s.on('timeout', () => { s.destroy(); r(false); });
  s.on('error', () => r(false));
});
Promise.all(targets.map(async (t) => ({ ...t, icmp: await ping(t.ip), tcp: await tcp(t.ip) })))
  .then((r) => process.stdout.write(JSON.stringify(r)));
`;

export async function labCheck(o: { stateDir?: string } = {}): Promise<CheckResult[]> {
  const state = await readState(o.stateDir ?? defaultStateDir());
  if (!state) throw new UserError('no lab is up: run `kosmosctl lab up -f FILE` first');
  const targets = checkTargets(labPlan(state));
  const bySrc = new Map<string, Target[]>();
  for (const t of targets) bySrc.set(t.src, [...(bySrc.get(t.src) ?? []), t]);
  const results: CheckResult[] = [];
  // One probe process per source pod, sources in parallel: each probes all its targets at once.
  await Promise.all(
    [...bySrc].map(async ([src, list]) => {
      const out = await inNs(src, process.execPath, '-e', PROBE, JSON.stringify(list), String(LAB_PORT));
      results.push(...(JSON.parse(out) as CheckResult[]));
    }),
  );
  const order = new Map(targets.map((t, i) => [`${t.src}>${t.ip}`, i]));
  return results.sort((a, b) => (order.get(`${a.src}>${a.ip}`) ?? 0) - (order.get(`${b.src}>${b.ip}`) ?? 0));
}

export function formatCheck(results: readonly CheckResult[]): string {
  const rows = [['SOURCE POD', 'TARGET', 'IP', 'ICMP', 'TCP']];
  for (const r of results) rows.push([r.src, r.dst, r.ip, r.icmp ? 'ok' : 'FAIL', r.tcp ? 'ok' : 'FAIL']);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const ok = results.filter((r) => r.icmp && r.tcp).length;
  lines.push(`${ok}/${results.length} pairs connected`);
  return lines.join('\n');
}

/** Remove every namespace, link and process the lab made; tolerant of anything already gone. */
export async function labDown(o: { stateDir?: string; log?: (l: string) => void } = {}): Promise<void> {
  const dir = o.stateDir ?? defaultStateDir();
  const state = await readState(dir);
  if (!state) return;
  const problems: string[] = [];
  const existing = new Set((await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]));
  // Everything running inside a lab namespace (agents, iperf3, stray probes) dies with the lab.
  const pids = new Set<number>();
  for (const ns of state.namespaces) {
    if (!existing.has(ns)) continue;
    const out = await ip('netns', 'pids', ns).catch(() => '');
    for (const p of out.split('\n').filter(Boolean)) pids.add(Number(p));
  }
  for (const n of Object.values(state.nodes)) if (n.pid) pids.add(n.pid);
  if (state.manager?.pid) pids.add(state.manager.pid);
  await Promise.all([...pids].map((p) => killAndWait(p, 'SIGTERM')));
  if (state.redis?.pid) await killAndWait(state.redis.pid, 'SIGTERM');
  for (const ns of state.namespaces) {
    if (!existing.has(ns)) continue;
    await ip('netns', 'del', ns).catch((err: unknown) => problems.push(describeError(err)));
  }
  const links = await ip('-o', 'link', 'show').catch(() => '');
  for (const l of state.rootLinks) {
    if (!new RegExp(`^\\d+: ${l}[@:]`, 'm').test(links)) continue;
    // A veth whose peer namespace was just deleted disappears asynchronously: gone is fine.
    await ip('link', 'del', l).catch((err: unknown) => {
      if (!/Cannot find device/.test(describeError(err))) problems.push(describeError(err));
    });
  }
  if (problems.length) throw new KosmosError(`lab down left things behind:\n${problems.join('\n')}`);
  await rm(statePath(dir), { force: true });
  o.log?.(`lab ${state.id}: down`);
}
