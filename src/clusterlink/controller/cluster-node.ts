/**
 * What the per-cluster controller writes, as pure functions: the ClusterNode of a member
 * node and the Cluster's clusterLinkStatus. The Kubernetes adapter feeds them Node objects;
 * the lab feeds them its YAML.
 */
import { API_VERSION, LABEL_CLUSTER } from '../../api/constants.js';
import type { ClusterNode, ClusterStatus } from '../../api/kinds.js';
import { normalizeCIDR } from '../netconfig/ip.js';

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
 * clusterLinkStatus from what the cluster exposes. Managed clusters do not show their service
 * CIDR (no static apiserver pod), so configured service CIDRs are used when none was found.
 * CIDRs are normalised to their network address; unparsable ones are kept as written so the
 * network manager reports them.
 */
export function clusterLinkStatusFor(
  podCIDRs: readonly string[],
  discoveredServiceCIDRs: readonly string[],
  configuredServiceCIDRs: readonly string[] = [],
): NonNullable<ClusterStatus['clusterLinkStatus']> {
  const norm = (l: readonly string[]) => l.map((c) => normalizeCIDR(c) ?? c);
  const svc = discoveredServiceCIDRs.length > 0 ? discoveredServiceCIDRs : configuredServiceCIDRs;
  return { podCIDRs: norm(podCIDRs), serviceCIDRs: norm(svc) };
}
