/**
 * Pure plan of a lab: namespace and link names, underlay addresses, pod and service
 * addresses, and the targets `lab check` tries (through global IPs where a cluster is mapped).
 */
import { familiesOf } from '../netconfig/model.js';
import { type Family, type IP, firstHost, formatIP, parseCIDR, parseIP } from '../../common/ip.js';
import type { LabCluster, LabConfig } from './config.js';

export const LAB_PORT = 8080;

export interface PlannedNode {
  cluster: string;
  node: string;
  /** Node namespace = ClusterNode name = `<cluster>-<node>`. */
  ns: string;
  podNs: string;
  rootVeth: string;
  underlay: Record<Family, string>;
  /** First usable address of each of the node's pod CIDRs, by family. */
  pod: Partial<Record<Family, string>>;
}

export interface PlannedCluster {
  config: LabCluster;
  families: Family[];
  nodes: PlannedNode[];
  /** Service IP by family and the pod it DNATs to. */
  service: Partial<Record<Family, { ip: string; target: string }>>;
}

export interface LabPlan {
  id: string;
  bridge: string;
  /** Root namespace side of the underlay (Redis listens here for the agents). */
  root: Record<Family, string>;
  subnet: Record<Family, string>;
  clusters: PlannedCluster[];
}

export interface Target {
  src: string;
  dst: string;
  kind: 'pod' | 'service';
  ip: string;
}

export function planLab(config: LabConfig, id: string, subnetIndex: number): LabPlan {
  const k = subnetIndex & 0xff;
  const v4 = (host: number) => `100.64.${k}.${host}`;
  const v6 = (host: number) => `fd6c:${k.toString(16)}::${host.toString(16)}`;
  let i = 0;
  const clusters = config.clusters.map((c): PlannedCluster => {
    const families = familiesOf(c.ipFamily);
    const nodes = c.nodes.map((n): PlannedNode => {
      const host = 10 + i;
      const idx = i++;
      const pod: Partial<Record<Family, string>> = {};
      for (const cidr of n.podCIDRs) {
        const p = parseCIDR(cidr);
        if (p && families.includes(p.family) && !pod[p.family]) pod[p.family] = formatIP(firstHost(p));
      }
      return {
        cluster: c.name,
        node: n.name,
        ns: `${c.name}-${n.name}`,
        podNs: `${c.name}-${n.name}-pod`,
        rootVeth: `${id}u${idx}`,
        underlay: { 4: v4(host), 6: v6(host) },
        pod,
      };
    });
    const service: PlannedCluster['service'] = {};
    for (const cidr of c.serviceCIDRs) {
      const p = parseCIDR(cidr);
      if (!p || !families.includes(p.family) || service[p.family]) continue;
      const target = nodes.find((n) => n.pod[p.family])?.pod[p.family];
      if (target) service[p.family] = { ip: formatIP(firstHost(p)), target };
    }
    return { config: c, families, nodes, service };
  });
  return {
    id,
    bridge: `${id}br`,
    root: { 4: v4(1), 6: v6(1) },
    subnet: { 4: `${v4(0)}/24`, 6: `${v6(0).replace(/::0$/, '::')}/64` },
    clusters,
  };
}

/** `ip` as seen from other clusters: translated through the owner's globalCIDRsMap when a key contains it. */
export function globalIP(ip: string, c: LabCluster): string {
  const addr = parseIP(ip);
  if (!addr) return ip;
  for (const [from, to] of Object.entries(c.globalCIDRsMap)) {
    const f = parseCIDR(from);
    const t = parseCIDR(to);
    if (!f || !t || f.family !== addr.family || t.prefix !== f.prefix) continue;
    const total = BigInt(addr.family === 4 ? 32 : 128);
    const hostMask = (1n << (total - BigInt(f.prefix))) - 1n;
    if ((addr.value & ~hostMask) === f.network) {
      const mapped: IP = { family: addr.family, value: t.network | (addr.value & hostMask) };
      return formatIP(mapped);
    }
  }
  return ip;
}

/** Every pod against every other cluster's pods and service, in each family both clusters use. */
export function checkTargets(plan: LabPlan): Target[] {
  const out: Target[] = [];
  for (const a of plan.clusters)
    for (const src of a.nodes)
      for (const b of plan.clusters) {
        if (a === b) continue;
        for (const f of a.families) {
          if (!b.families.includes(f) || !src.pod[f]) continue;
          for (const dst of b.nodes) {
            const ip = dst.pod[f];
            if (ip)
              out.push({ src: src.podNs, dst: `${dst.ns} pod`, kind: 'pod', ip: globalIP(ip, b.config) });
          }
          const svc = b.service[f];
          if (svc)
            out.push({
              src: src.podNs,
              dst: `${b.config.name} service`,
              kind: 'service',
              ip: globalIP(svc.ip, b.config),
            });
        }
      }
  return out;
}
