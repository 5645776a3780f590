/**
 * Pure network manager core: every node's NodeConfig from all Clusters and ClusterNodes.
 * Same input (in any list order) gives byte-identical output, so the adapter can write only
 * the NodeConfigs whose content changed.
 */
import { createHash } from 'node:crypto';
import { VXLAN, ZERO_MAC } from '../../api/constants.js';
import type {
  Arp,
  Cluster,
  ClusterNode,
  Device,
  Fdb,
  IptablesRule,
  NodeConfigSpec,
  Route,
} from '../../api/kinds.js';
import { type CIDR, type Family, formatCIDR, formatIP, graft, cidrsOverlap } from '../../common/ip.js';
import { type ClusterModel, type NodeModel, type Problem, buildModel, exposed } from './model.js';

export interface NetworkInput {
  clusters: readonly Cluster[];
  clusterNodes: readonly ClusterNode[];
  /** Current NodeConfig specs by name: their device MACs are kept, so a recompute never changes a MAC. */
  previous?: ReadonlyMap<string, NodeConfigSpec>;
}

export interface NetworkResult {
  /** One entry per ClusterLink node (possibly empty), sorted by name. */
  nodeConfigs: Map<string, NodeConfigSpec>;
  problems: Problem[];
}

type DeviceKind = 'bridge' | 'local';
const DEVICES = {
  bridge: { 4: VXLAN.bridge, 6: VXLAN.bridge6 },
  local: { 4: VXLAN.local, 6: VXLAN.local6 },
} as const;
export const deviceName = (kind: DeviceKind, f: Family): string => DEVICES[kind][f].name;

/**
 * A MAC derived from the node and device name: stable across recomputes and restarts of the
 * network manager even when the previous NodeConfig is lost; locally administered, unicast.
 */
export function stableMac(nodeName: string, device: string): string {
  const b = createHash('sha256').update(`${nodeName}/${device}`).digest();
  b[0] = ((b[0] ?? 0) | 0x02) & 0xfe;
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

class Builder {
  readonly devices: Device[] = [];
  readonly routes: Route[] = [];
  readonly iptables: IptablesRule[] = [];
  readonly fdbs: Fdb[] = [];
  readonly arps: Arp[] = [];
}

const addrOnly = (d: Device): string => d.addr.slice(0, d.addr.indexOf('/'));

/**
 * Sort every node's list by the given fields and drop duplicates. Entries are shared between
 * nodes (the same route or FDB entry object sits in many lists), so each distinct entry gets
 * its key and rank once and every list is then sorted as integers: a p2p mesh of 1000 nodes
 * (3 million FDB/ARP references) is sorted without a string comparison per reference.
 * Keys cover every field, so equal keys are equal entries. A NUL between fields sorts a
 * shorter value first, which is the order of the items' JSON.
 */
function sortAll<T extends object>(lists: T[][], fields: readonly (keyof T)[]): T[][] {
  const distinct = new Set<T>();
  for (const l of lists) for (const x of l) distinct.add(x);
  const keyed = [...distinct].map((item) => ({ k: fields.map((f) => String(item[f])).join('\0'), item }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const rank = new Map<T, number>();
  const byRank: T[] = [];
  let last: string | undefined;
  for (const { k, item } of keyed) {
    if (k !== last) byRank.push(item);
    last = k;
    rank.set(item, byRank.length - 1);
  }
  return lists.map((l) => {
    const ranks = Int32Array.from(l, (x) => rank.get(x) ?? 0).sort();
    const out: T[] = [];
    for (let i = 0; i < ranks.length; i++)
      if (i === 0 || ranks[i] !== ranks[i - 1]) out.push(byRank[ranks[i] ?? 0] as T);
    return out;
  });
}

export function computeNodeConfigs(input: NetworkInput): NetworkResult {
  const problems: Problem[] = [];
  const clusters = buildModel(input.clusters, input.clusterNodes, problems);
  const nodes = clusters.flatMap((c) => c.nodes);
  const out = new Map<string, Builder>(nodes.map((n) => [n.name, new Builder()]));
  const b = (n: NodeModel): Builder => out.get(n.name) as Builder;

  // Devices. A VTEP address keeps the underlay's host bits, so two underlays can collide
  // (10.1.2.3 and 11.1.2.3 both give 220.1.2.3/8): the first node by name keeps the address,
  // the other gets no device (and so no routes) and a problem saying why.
  const dev = new Map<NodeModel, Map<string, Device>>(); // node -> device name -> device
  const taken = new Map<string, string>(); // `${segment}/${addr}` -> node name
  const makeDevice = (n: NodeModel, kind: DeviceKind, f: Family, segment: string) => {
    const within = kind === 'bridge' ? n.cluster.bridgeCIDR[f] : n.cluster.localCIDR[f];
    const ip = n.underlay[f];
    if (!within || !ip) return;
    const spec = DEVICES[kind][f];
    const addr = formatIP(graft(ip, within));
    const key = `${segment}/${spec.name}/${addr}`;
    const holder = taken.get(key);
    if (holder) {
      problems.push({
        cluster: n.cluster.name,
        node: n.name,
        reason: 'VtepAddressCollision',
        message: `${spec.name} address ${addr} of ${n.name} (underlay ${formatIP(ip)}) collides with ${holder}: choose ${kind}CIDRs with a longer prefix or distinct underlay host bits`,
      });
      return;
    }
    taken.set(key, n.name);
    const prevMac = input.previous?.get(n.name)?.devices?.find((d) => d.name === spec.name)?.mac;
    const d: Device = {
      type: 'vxlan',
      name: spec.name,
      addr: `${addr}/${within.prefix}`,
      mac: prevMac || stableMac(n.name, spec.name),
      bindDev: n.interfaceName,
      id: spec.vni,
      port: spec.port,
    };
    let mine = dev.get(n);
    if (!mine) dev.set(n, (mine = new Map()));
    mine.set(spec.name, d);
    b(n).devices.push(d);
  };
  const deviceOf = (n: NodeModel, kind: DeviceKind, f: Family) => dev.get(n)?.get(DEVICES[kind][f].name);

  // Bridge nodes: every node of a p2p cluster, the gateway of a gateway cluster.
  const isBridge = (n: NodeModel) => n.cluster.p2p || n.isGateway;
  const bridgeNodes = nodes.filter(isBridge);
  const internal = (c: ClusterModel) => (c.p2p ? [] : c.nodes.filter((n) => !n.isGateway));
  for (const c of clusters) {
    if (c.p2p) continue;
    for (const n of c.nodes) for (const f of c.families) makeDevice(n, 'local', f, c.name);
  }
  for (const n of bridgeNodes) for (const f of n.cluster.families) makeDevice(n, 'bridge', f, '');

  // What each cluster must never route away: its own real CIDRs and its own global images.
  const keepLocal = new Map<string, CIDR[]>(
    clusters.map((c) => {
      const real = [...c.podCIDRs, ...c.serviceCIDRs];
      return [c.name, [...real, ...real.map((x) => exposed(x, c))]];
    }),
  );
  const reported = new Set<string>();
  const conflict = (owner: ClusterModel, cidr: CIDR, viewer: ClusterModel): boolean => {
    const hit = (keepLocal.get(viewer.name) ?? []).find((x) => cidrsOverlap(x, cidr));
    if (!hit) return false;
    const key = `${owner.name}/${viewer.name}/${formatCIDR(cidr)}`;
    if (!reported.has(key)) {
      reported.add(key);
      problems.push({
        cluster: owner.name,
        reason: 'OverlappingCIDRs',
        message: `${formatCIDR(cidr)} of cluster ${owner.name} overlaps ${formatCIDR(hit)} of cluster ${viewer.name}, so ${viewer.name} cannot reach it: map it in spec.clusterLinkOptions.globalCIDRsMap of ${owner.name} to a CIDR no other cluster uses`,
      });
    }
    return true;
  };

  /** Route `cidrs` (already as others see them) to bridge node `t` from every node of every other cluster. */
  const routeTo = (t: NodeModel, cidrs: CIDR[]) => {
    for (const cidr of cidrs) {
      const f = cidr.family;
      const target = deviceOf(t, 'bridge', f);
      if (!target) continue;
      const text = formatCIDR(cidr);
      // One shared object per distinct route: every bridge node gets the same one.
      const viaBridge: Route = { cidr: text, gw: addrOnly(target), dev: deviceName('bridge', f) };
      for (const c of clusters) {
        if (c === t.cluster || !c.families.includes(f) || conflict(t.cluster, cidr, c)) continue;
        const gw = c.gateway && deviceOf(c.gateway, 'local', f);
        const viaLocal: Route | undefined = gw
          ? { cidr: text, gw: addrOnly(gw), dev: deviceName('local', f) }
          : undefined;
        for (const n of c.nodes) {
          if (isBridge(n)) {
            if (deviceOf(n, 'bridge', f)) b(n).routes.push(viaBridge);
          } else if (viaLocal && deviceOf(n, 'local', f)) b(n).routes.push(viaLocal);
        }
      }
    }
  };
  for (const c of clusters)
    if (c.gateway)
      routeTo(
        c.gateway,
        c.serviceCIDRs.map((x) => exposed(x, c)),
      );
  for (const t of bridgeNodes) {
    const own = t.cluster.p2p ? t.podCIDRs : t.cluster.podCIDRs;
    routeTo(
      t,
      own.map((x) => exposed(x, t.cluster)),
    );
  }

  // Neighbours: static FDB (flood + unicast) and ARP entries so the vxlan devices never learn.
  // The entries pointing at one node's device are built once and the same objects go into
  // every peer's list: a p2p mesh of 1000 nodes shares 6000 objects instead of allocating
  // 3 million.
  interface PeerEntries {
    fdbs: [Fdb, Fdb];
    arp: Arp;
  }
  const entriesOf = (t: NodeModel, kind: DeviceKind, f: Family): PeerEntries | undefined => {
    const td = deviceOf(t, kind, f);
    const ip = t.underlay[f];
    if (!td || !ip) return undefined;
    const devName = deviceName(kind, f);
    return {
      fdbs: [
        { ip: formatIP(ip), mac: ZERO_MAC, dev: devName },
        { ip: formatIP(ip), mac: td.mac, dev: devName },
      ],
      arp: { ip: addrOnly(td), mac: td.mac, dev: devName },
    };
  };
  const addPeer = (s: NodeModel, e: PeerEntries | undefined) => {
    if (!e) return;
    const x = b(s);
    x.fdbs.push(e.fdbs[0], e.fdbs[1]);
    x.arps.push(e.arp);
  };
  for (const c of clusters) {
    if (!c.gateway) continue;
    for (const i of internal(c))
      for (const f of c.families) {
        if (!deviceOf(i, 'local', f) || !deviceOf(c.gateway, 'local', f)) continue;
        addPeer(i, entriesOf(c.gateway, 'local', f));
        addPeer(c.gateway, entriesOf(i, 'local', f));
      }
  }
  for (const f of [4, 6] as const) {
    const mesh = bridgeNodes
      .filter((n) => n.cluster.families.includes(f) && deviceOf(n, 'bridge', f))
      .map((n) => ({ n, e: entriesOf(n, 'bridge', f) }));
    for (const s of mesh) for (const t of mesh) if (s !== t) addPeer(s.n, t.e);
  }

  // NAT. The gateway of a gateway cluster masquerades host-network traffic that uses the
  // vx-local / vx-bridge addresses. Global maps translate 1:1 both ways with NETMAP (the
  // reference SNATs every pod to one address, which hides which pod spoke).
  for (const c of clusters) {
    if (c.p2p || !c.gateway) continue;
    for (const f of c.families) {
      const local = c.localCIDR[f];
      const bridge = c.bridgeCIDR[f];
      if (!local || !bridge || !deviceOf(c.gateway, 'bridge', f)) continue;
      b(c.gateway).iptables.push(
        {
          table: 'nat',
          chain: 'POSTROUTING',
          rule: `-s ${formatCIDR(local)} -o ${deviceName('bridge', f)} -j MASQUERADE`,
        },
        { table: 'nat', chain: 'POSTROUTING', rule: `-s ${formatCIDR(bridge)} -j MASQUERADE` },
      );
    }
  }
  for (const t of bridgeNodes) {
    for (const m of t.cluster.globalMap) {
      const devName = deviceName('bridge', m.from.family);
      if (!deviceOf(t, 'bridge', m.from.family)) continue;
      b(t).iptables.push(
        {
          table: 'nat',
          chain: 'PREROUTING',
          rule: `-d ${formatCIDR(m.to)} -i ${devName} -j NETMAP --to ${formatCIDR(m.from)}`,
        },
        {
          table: 'nat',
          chain: 'POSTROUTING',
          rule: `-s ${formatCIDR(m.from)} -o ${devName} -j NETMAP --to ${formatCIDR(m.to)}`,
        },
      );
    }
  }

  const names = [...out.keys()].sort();
  const builders = names.map((n) => out.get(n) as Builder);
  const devices = sortAll(
    builders.map((x) => x.devices),
    ['name', 'addr', 'mac', 'bindDev', 'id', 'port', 'type'],
  );
  const routes = sortAll(
    builders.map((x) => x.routes),
    ['cidr', 'gw', 'dev'],
  );
  const iptables = sortAll(
    builders.map((x) => x.iptables),
    ['table', 'chain', 'rule'],
  );
  const fdbs = sortAll(
    builders.map((x) => x.fdbs),
    ['ip', 'mac', 'dev'],
  );
  const arps = sortAll(
    builders.map((x) => x.arps),
    ['ip', 'mac', 'dev'],
  );
  const nodeConfigs = new Map<string, NodeConfigSpec>();
  names.forEach((name, i) => {
    const spec: NodeConfigSpec = {};
    if (devices[i]?.length) spec.devices = devices[i];
    if (routes[i]?.length) spec.routes = routes[i];
    if (iptables[i]?.length) spec.iptables = iptables[i];
    if (fdbs[i]?.length) spec.fdbs = fdbs[i];
    if (arps[i]?.length) spec.arps = arps[i];
    nodeConfigs.set(name, spec);
  });
  return { nodeConfigs, problems: sortAll([problems], ['cluster', 'reason', 'node', 'message'])[0] ?? [] };
}
