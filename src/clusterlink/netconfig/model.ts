/**
 * The validated, parsed view of Clusters and ClusterNodes that the NodeConfig rules work on.
 * Everything unparsable or contradictory is reported here as a Problem, once, with the
 * object and field to fix, and left out of the model so that no rule has to re-check it.
 */
import {
  DEFAULT_BRIDGE_CIDRS,
  DEFAULT_LOCAL_CIDRS,
  IP_FAMILIES,
  NETWORK_TYPES,
  ROLE_GATEWAY,
} from '../../api/constants.js';
import { type FieldError, formatFieldError, invalid, required, unsupported } from '../../api/field-errors.js';
import type { Cluster, ClusterNode } from '../../api/kinds.js';
import {
  type CIDR,
  type Family,
  type IP,
  checkCIDR,
  formatCIDR,
  parseCIDR,
  parseIP,
} from '../../common/ip.js';

export type ProblemReason =
  | 'InvalidCluster'
  | 'InvalidNode'
  | 'InvalidCIDR'
  | 'InvalidGlobalCIDRsMap'
  | 'OverlappingCIDRs'
  | 'VtepAddressCollision'
  | 'NoGateway';

/** Something that keeps (part of) a cluster from being connected, for Cluster.status and the log. */
export interface Problem {
  cluster: string;
  node?: string;
  reason: ProblemReason;
  message: string;
}

export interface GlobalMapping {
  from: CIDR;
  to: CIDR;
}

export interface ClusterModel {
  name: string;
  p2p: boolean;
  families: Family[];
  localCIDR: Partial<Record<Family, CIDR>>;
  bridgeCIDR: Partial<Record<Family, CIDR>>;
  podCIDRs: CIDR[];
  serviceCIDRs: CIDR[];
  globalMap: GlobalMapping[];
  nodes: NodeModel[];
  gateway: NodeModel | undefined;
}

export interface NodeModel {
  /** ClusterNode name = NodeConfig name = `<cluster>-<node>`. */
  name: string;
  cluster: ClusterModel;
  interfaceName: string;
  underlay: Partial<Record<Family, IP>>;
  podCIDRs: CIDR[];
  isGateway: boolean;
}

export const familiesOf = (ipFamily: string): Family[] =>
  ipFamily === 'ipv4' ? [4] : ipFamily === 'ipv6' ? [6] : ipFamily === 'all' ? [4, 6] : [];

const byName = <T extends { metadata: { name?: string } }>(a: T, b: T): number =>
  (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

function parseList(
  list: readonly string[] | undefined,
  field: string,
  cluster: string,
  problems: Problem[],
  node?: string,
): CIDR[] {
  const out: CIDR[] = [];
  (list ?? []).forEach((s, i) => {
    const c = parseCIDR(s);
    if (c) out.push(c);
    else
      problems.push({
        cluster,
        ...(node ? { node } : {}),
        reason: 'InvalidCIDR',
        message: formatFieldError(checkCIDR(`${field}[${i}]`, s) as FieldError),
      });
  });
  return out;
}

export function buildModel(
  clusters: readonly Cluster[],
  clusterNodes: readonly ClusterNode[],
  problems: Problem[],
): ClusterModel[] {
  const models = new Map<string, ClusterModel>();
  for (const c of [...clusters].sort(byName)) {
    const name = c.metadata.name ?? '';
    const opts = c.spec.clusterLinkOptions;
    if (!name || !opts || opts.enable === false) continue;
    const networkType = opts.networkType ?? 'p2p';
    const ipFamily = opts.ipFamily ?? 'all';
    if (!(NETWORK_TYPES as readonly string[]).includes(networkType)) {
      problems.push({
        cluster: name,
        reason: 'InvalidCluster',
        message: formatFieldError(
          unsupported('spec.clusterLinkOptions.networkType', networkType, NETWORK_TYPES),
        ),
      });
      continue;
    }
    const families = familiesOf(ipFamily);
    if (families.length === 0) {
      problems.push({
        cluster: name,
        reason: 'InvalidCluster',
        message: formatFieldError(unsupported('spec.clusterLinkOptions.ipFamily', ipFamily, IP_FAMILIES)),
      });
      continue;
    }
    const local = opts.localCIDRs ?? DEFAULT_LOCAL_CIDRS;
    const bridge = opts.bridgeCIDRs ?? DEFAULT_BRIDGE_CIDRS;
    const pair = (p: { ip: string; ip6: string }, field: string): Partial<Record<Family, CIDR>> => {
      const out: Partial<Record<Family, CIDR>> = {};
      for (const [f, key] of [
        [4, 'ip'],
        [6, 'ip6'],
      ] as const) {
        if (!families.includes(f)) continue;
        const parsed = parseCIDR(p[key]);
        if (parsed && parsed.family === f) out[f] = parsed;
        else
          problems.push({
            cluster: name,
            reason: 'InvalidCIDR',
            message: formatFieldError(
              invalid(`spec.clusterLinkOptions.${field}.${key}`, p[key], `must be an IPv${f} CIDR`),
            ),
          });
      }
      return out;
    };
    const status = c.status?.clusterLinkStatus;
    const inFamily = (list: CIDR[]) => list.filter((x) => families.includes(x.family));
    const globalMap: GlobalMapping[] = [];
    for (const [from, to] of Object.entries(opts.globalCIDRsMap ?? {}).sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      const field = `spec.clusterLinkOptions.globalCIDRsMap[${JSON.stringify(from)}]`;
      const f = parseCIDR(from);
      const t = parseCIDR(to);
      if (!f || !t || f.family !== t.family || f.prefix !== t.prefix) {
        problems.push({
          cluster: name,
          reason: 'InvalidGlobalCIDRsMap',
          message: formatFieldError(
            invalid(
              field,
              to,
              'key and value must be CIDRs of the same family and prefix length (mapping is 1:1)',
            ),
          ),
        });
        continue;
      }
      globalMap.push({ from: f, to: t });
    }
    models.set(name, {
      name,
      p2p: networkType === 'p2p',
      families,
      localCIDR: pair(local, 'localCIDRs'),
      bridgeCIDR: pair(bridge, 'bridgeCIDRs'),
      podCIDRs: inFamily(parseList(status?.podCIDRs, 'status.clusterLinkStatus.podCIDRs', name, problems)),
      // The spec's list overrides what the controller discovered, also before the controller
      // has copied it into the status.
      serviceCIDRs: inFamily(
        opts.serviceCIDRs && opts.serviceCIDRs.length > 0
          ? parseList(opts.serviceCIDRs, 'spec.clusterLinkOptions.serviceCIDRs', name, problems)
          : parseList(status?.serviceCIDRs, 'status.clusterLinkStatus.serviceCIDRs', name, problems),
      ),
      globalMap,
      nodes: [],
      gateway: undefined,
    });
  }

  for (const n of [...clusterNodes].sort(byName)) {
    const name = n.metadata.name ?? '';
    const s = n.spec;
    const clusterName = s.clusterName ?? '';
    const cluster = models.get(clusterName);
    if (!cluster) continue; // not a ClusterLink node (cluster absent or disabled): nothing to say
    const bad = (msg: string) =>
      problems.push({ cluster: clusterName, node: name, reason: 'InvalidNode', message: msg });
    if (!s.interfaceName) {
      bad(formatFieldError(required('spec.interfaceName', 'the agent has not reported the node NIC yet')));
      continue;
    }
    const underlay: Partial<Record<Family, IP>> = {};
    let ok = true;
    for (const f of cluster.families) {
      const key = f === 4 ? 'ip' : 'ip6';
      const raw = s[key];
      const ip = raw ? parseIP(raw) : undefined;
      if (!raw) {
        bad(formatFieldError(required(`spec.${key}`, `cluster ${clusterName} uses IPv${f}`)));
        ok = false;
      } else if (!ip || ip.family !== f) {
        bad(formatFieldError(invalid(`spec.${key}`, raw, `must be an IPv${f} address`)));
        ok = false;
      } else underlay[f] = ip;
    }
    if (!ok) continue;
    const model: NodeModel = {
      name,
      cluster,
      interfaceName: s.interfaceName,
      underlay,
      podCIDRs: parseList(s.podCIDRs, 'spec.podCIDRs', clusterName, problems, name).filter((c) =>
        cluster.families.includes(c.family),
      ),
      isGateway: (s.roles ?? []).some((r) => r.toLowerCase() === ROLE_GATEWAY),
    };
    cluster.nodes.push(model);
    // Several gateway roles (e.g. during an elector hand-over): the first by name wins, deterministically.
    if (model.isGateway && !cluster.gateway) cluster.gateway = model;
  }
  for (const c of models.values()) {
    for (const n of c.nodes) n.isGateway = n === c.gateway;
    if (!c.gateway && c.nodes.length > 0) {
      problems.push({
        cluster: c.name,
        reason: 'NoGateway',
        message: c.p2p
          ? `no node of p2p cluster ${c.name} has the ${ROLE_GATEWAY} role: its service CIDRs are not reachable from other clusters`
          : `no node of gateway cluster ${c.name} has the ${ROLE_GATEWAY} role: it is not connected to other clusters`,
      });
    }
  }
  return [...models.values()];
}

/** The CIDR other clusters see for `c`: its globalCIDRsMap image when a map entry contains it. */
export function exposed(c: CIDR, cluster: ClusterModel): CIDR {
  for (const m of cluster.globalMap) {
    if (m.from.family === c.family && m.from.prefix <= c.prefix) {
      const full = (1n << BigInt(c.family === 4 ? 32 : 128)) - 1n;
      const hostMask = full >> BigInt(m.from.prefix);
      if ((c.network & (full ^ hostMask)) === m.from.network) {
        return { family: c.family, network: m.to.network | (c.network & hostMask), prefix: c.prefix };
      }
    }
  }
  return c;
}

export const show = formatCIDR;
