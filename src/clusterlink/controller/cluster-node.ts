/**
 * What the per-cluster controller writes, as pure functions: the ClusterNode of a member
 * node and the Cluster's clusterLinkStatus. The Kubernetes adapter feeds them Node objects;
 * the lab feeds them its YAML.
 */
import {
  API_VERSION,
  AUTO_SELECT_INTERFACE,
  LABEL_CLUSTER,
  LABEL_EXCLUDE,
  LABEL_NODE,
} from '../../api/constants.js';
import type { Node } from '../../api/core.js';
import type { ClusterNode, ClusterStatus } from '../../api/kinds.js';
import { normalizeCIDR } from '../../common/ip.js';

export interface MemberNode {
  /** Kubernetes Node name. */
  name: string;
  podCIDRs: readonly string[];
  ip?: string;
  ip6?: string;
  interfaceName: string;
}

export const clusterNodeName = (cluster: string, node: string): string => `${cluster}-${node}`;

export function clusterNodeFor(cluster: string, n: MemberNode): ClusterNode {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterNode',
    metadata: { name: clusterNodeName(cluster, n.name), labels: { [LABEL_CLUSTER]: cluster } },
    spec: {
      clusterName: cluster,
      nodeName: n.name,
      podCIDRs: [...n.podCIDRs],
      interfaceName: n.interfaceName,
      ...(n.ip ? { ip: n.ip } : {}),
      ...(n.ip6 ? { ip6: n.ip6 } : {}),
    },
  };
}

/**
 * clusterLinkStatus from the decided pod and service CIDRs (see pod-cidrs.ts and
 * service-cidrs.ts), normalised to their network addresses; unparsable ones are kept as
 * written so the network manager reports them.
 */
export function clusterLinkStatusFor(
  podCIDRs: readonly string[],
  serviceCIDRs: readonly string[],
): NonNullable<ClusterStatus['clusterLinkStatus']> {
  const norm = (l: readonly string[]) => l.map((c) => normalizeCIDR(c) ?? c);
  return { podCIDRs: norm(podCIDRs), serviceCIDRs: norm(serviceCIDRs) };
}

/**
 * The member nodes ClusterLink links: every Node except Kosmos virtual nodes and excluded
 * ones, with its pod CIDRs and InternalIP addresses. The NIC is the cluster's per-node or
 * default NIC; `*` (also when none is set) is kept as is, and each node's agent binds the
 * tunnels to the interface holding the node's address (else the default route's).
 */
export function memberNodesFrom(
  nodes: readonly Node[],
  opts: {
    defaultNICName?: string;
    nicNodeNames?: readonly { interfaceName: string; nodeName: readonly string[] }[];
    /** A node's pod CIDRs as its CNI hands them out (pod-cidrs.ts); Node.spec.podCIDRs otherwise. */
    podCIDRs?: ReadonlyMap<string, readonly string[]>;
  },
): MemberNode[] {
  const out: MemberNode[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name;
    const labels = n.metadata?.labels ?? {};
    if (!name || labels[LABEL_NODE] === 'true' || labels[LABEL_EXCLUDE] === 'true') continue;
    const addrs = (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
    const nic =
      opts.nicNodeNames?.find((x) => x.nodeName.includes(name))?.interfaceName ??
      (opts.defaultNICName || AUTO_SELECT_INTERFACE);
    const ip = addrs.find((a) => !a.includes(':'));
    const ip6 = addrs.find((a) => a.includes(':'));
    out.push({
      name,
      podCIDRs: [
        ...(opts.podCIDRs?.get(name) ?? n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])),
      ],
      interfaceName: nic,
      ...(ip ? { ip } : {}),
      ...(ip6 ? { ip6 } : {}),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
