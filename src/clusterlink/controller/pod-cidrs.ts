/**
 * A member cluster's pod CIDRs, per node and for the whole cluster, from where its CNI keeps
 * them (`spec.clusterLinkOptions.cni`, default calico):
 *
 * | CNI     | cluster                                              | per node                                  |
 * | ------- | ---------------------------------------------------- | ----------------------------------------- |
 * | calico  | IPPools (`crd.projectcalico.org/v1`) not ClusterLink's | the node's confirmed BlockAffinities      |
 * | flannel | `Network` / `IPv6Network` of `kube-flannel-cfg`        | `Node.spec.podCIDRs` (its subnet manager) |
 * | cilium  | `cluster-pool-ipv4/6-cidr` of `cilium-config`          | `CiliumNode.spec.ipam.podCIDRs`           |
 * | other   | every node's `Node.spec.podCIDRs`                      | `Node.spec.podCIDRs`                      |
 *
 * Where the CNI's objects are absent (the CRDs are not installed, the ConfigMap is missing,
 * Cilium's IPAM is `kubernetes`), `Node.spec.podCIDRs` stands in, so a cluster whose CNI is
 * unknown or misnamed still links the way kube-controller-manager allocated.
 * Disabled Calico pools count: pods keep their addresses when a pool is disabled.
 */
import type { Node } from '../../api/core.js';
import { normalizeCIDR } from '../../common/ip.js';
import {
  CLUSTERLINK_POOL_PREFIX,
  FLANNEL_NET_CONF_KEY,
  type CalicoBlockAffinity,
  type CalicoIPPool,
  type CiliumNodeObject,
  type ConfigMapObject,
} from './member-objects.js';

export interface PodCIDRInputs {
  /** spec.clusterLinkOptions.cni (default calico). */
  cni?: string | undefined;
  nodes: readonly Node[];
  /** Undefined when the CRD is not served. */
  calicoIPPools?: readonly CalicoIPPool[] | undefined;
  calicoBlockAffinities?: readonly CalicoBlockAffinity[] | undefined;
  /** Every ConfigMap named kube-flannel-cfg (any namespace). */
  flannelConfigMaps?: readonly ConfigMapObject[] | undefined;
  ciliumConfig?: ConfigMapObject | undefined;
  ciliumNodes?: readonly CiliumNodeObject[] | undefined;
}

export type PodCIDRSource = 'calico' | 'flannel' | 'cilium' | 'nodes';

export interface PodCIDRDecision {
  /** The cluster's pod CIDRs (network addresses, sorted). */
  cluster: string[];
  clusterSource: PodCIDRSource;
  /** Node name → its pod CIDRs. Every input node has an entry. */
  perNode: Map<string, string[]>;
  nodeSource: PodCIDRSource;
  /** What could not be read, for the log (the decision then falls back). */
  notes: string[];
}

const norm = (list: readonly string[]): string[] =>
  [
    ...new Set(
      list
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => normalizeCIDR(s) ?? s),
    ),
  ].sort();

const nodeCIDRs = (n: Node): string[] => n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []);

/** The cluster's own Calico pools: every pool except the ones ClusterLink made for remote CIDRs. */
export const ownCalicoPools = (pools: readonly CalicoIPPool[]): CalicoIPPool[] =>
  pools.filter((p) => !(p.metadata?.name ?? '').startsWith(CLUSTERLINK_POOL_PREFIX) && p.spec?.cidr);

/**
 * A node's Calico blocks: affinities the IPAM confirmed (or older ones without a state) and
 * not marked deleted. Calico names nodes by hostname, as Kubernetes does by default.
 */
export function calicoNodeBlocks(affinities: readonly CalicoBlockAffinity[], node: string): string[] {
  return norm(
    affinities
      .filter(
        (a) =>
          a.spec?.node === node &&
          (a.spec.state === undefined || a.spec.state === 'confirmed') &&
          String(a.spec.deleted ?? 'false') !== 'true',
      )
      .map((a) => a.spec?.cidr ?? ''),
  );
}

/** `Network` and `IPv6Network` of net-conf.json; a note instead when it is not JSON. */
export function flannelNetworks(cm: ConfigMapObject): { cidrs: string[]; note?: string } {
  const text = cm.data?.[FLANNEL_NET_CONF_KEY];
  const where = `ConfigMap ${cm.metadata?.namespace ?? ''}/${cm.metadata?.name ?? ''} ${FLANNEL_NET_CONF_KEY}`;
  if (!text) return { cidrs: [], note: `${where}: missing` };
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch (e) {
    return { cidrs: [], note: `${where}: not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  const c = (conf ?? {}) as { Network?: unknown; IPv6Network?: unknown; EnableIPv4?: unknown };
  const out: string[] = [];
  // Flannel's EnableIPv4 defaults to true; IPv6Network is set only when IPv6 is used.
  if (typeof c.Network === 'string' && c.EnableIPv4 !== false) out.push(c.Network);
  if (typeof c.IPv6Network === 'string') out.push(c.IPv6Network);
  return { cidrs: norm(out) };
}

/** Cilium's cluster-pool CIDRs; none when its IPAM mode is another one (e.g. `kubernetes`). */
export function ciliumClusterPool(cm: ConfigMapObject): string[] {
  const d = cm.data ?? {};
  const mode = d['ipam'] ?? 'cluster-pool';
  if (mode !== 'cluster-pool') return [];
  const list = (k: string) => (d[k] ?? '').split(/[\s,]+/).filter(Boolean);
  return norm([...list('cluster-pool-ipv4-cidr'), ...list('cluster-pool-ipv6-cidr')]);
}

export function podCIDRsFor(i: PodCIDRInputs): PodCIDRDecision {
  const cni = i.cni ?? 'calico';
  const notes: string[] = [];
  const names = i.nodes.map((n) => n.metadata?.name ?? '').filter(Boolean);
  const fromNodes = new Map(i.nodes.map((n) => [n.metadata?.name ?? '', norm(nodeCIDRs(n))]));
  let perNode = fromNodes;
  let nodeSource: PodCIDRSource = 'nodes';
  let cluster: string[] = [];
  let clusterSource: PodCIDRSource = 'nodes';

  if (cni === 'calico') {
    const pools = ownCalicoPools(i.calicoIPPools ?? []);
    if (pools.length > 0) {
      cluster = norm(pools.map((p) => p.spec?.cidr ?? ''));
      clusterSource = 'calico';
      // With Calico's IPAM in charge, Node.spec.podCIDRs is not where pods get addresses:
      // a node without blocks has no pods to route to yet.
      const aff = i.calicoBlockAffinities;
      if (aff) {
        perNode = new Map(names.map((n) => [n, calicoNodeBlocks(aff, n)]));
        nodeSource = 'calico';
      }
    } else notes.push('cni calico: no Calico IPPool found; using Node.spec.podCIDRs');
  } else if (cni === 'flannel') {
    const found = (i.flannelConfigMaps ?? []).map(flannelNetworks);
    notes.push(...found.flatMap((f) => (f.note ? [f.note] : [])));
    cluster = norm(found.flatMap((f) => f.cidrs));
    if (cluster.length > 0) clusterSource = 'flannel';
    else notes.push('cni flannel: no network in kube-flannel-cfg; using Node.spec.podCIDRs');
  } else if (cni === 'cilium') {
    cluster = i.ciliumConfig ? ciliumClusterPool(i.ciliumConfig) : [];
    if (cluster.length > 0) {
      clusterSource = 'cilium';
      // cluster-pool IPAM hands each node CIDRs of its own, in CiliumNode, not Node.spec.podCIDRs.
      if (i.ciliumNodes) {
        const byName = new Map(i.ciliumNodes.map((c) => [c.metadata?.name ?? '', c]));
        perNode = new Map(names.map((n) => [n, norm(byName.get(n)?.spec?.ipam?.podCIDRs ?? [])]));
        nodeSource = 'cilium';
      }
    } else notes.push('cni cilium: no cluster-pool CIDR in cilium-config; using Node.spec.podCIDRs');
  }
  if (clusterSource === 'nodes') cluster = norm([...fromNodes.values()].flat());
  return { cluster, clusterSource, perNode, nodeSource, notes };
}
