import type { Cluster, ClusterNode } from '../../../src/api/kinds.js';

export interface ClusterOpts {
  networkType?: 'p2p' | 'gateway';
  ipFamily?: 'ipv4' | 'ipv6' | 'all';
  pod?: string[];
  svc?: string[];
  globalCIDRsMap?: Record<string, string>;
}

export function cluster(name: string, o: ClusterOpts = {}): Cluster {
  return {
    apiVersion: 'kosmos.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      clusterLinkOptions: {
        networkType: o.networkType ?? 'p2p',
        ipFamily: o.ipFamily ?? 'ipv4',
        ...(o.globalCIDRsMap ? { globalCIDRsMap: o.globalCIDRsMap } : {}),
      },
    },
    status: { clusterLinkStatus: { podCIDRs: o.pod ?? [], serviceCIDRs: o.svc ?? [] } },
  };
}

export interface NodeOpts {
  ip?: string;
  ip6?: string;
  pod?: string[];
  gateway?: boolean;
  nic?: string;
}

export function node(clusterName: string, nodeName: string, o: NodeOpts): ClusterNode {
  return {
    apiVersion: 'kosmos.io/v1alpha1',
    kind: 'ClusterNode',
    metadata: { name: `${clusterName}-${nodeName}` },
    spec: {
      clusterName,
      nodeName,
      interfaceName: o.nic ?? 'eth0',
      ...(o.ip ? { ip: o.ip } : {}),
      ...(o.ip6 ? { ip6: o.ip6 } : {}),
      podCIDRs: o.pod ?? [],
      roles: o.gateway ? ['gateway'] : [],
    },
  };
}
