/**
 * Calico IPPools for every remote cluster's pod and service CIDRs, in a Calico member.
 *
 * Calico's `natOutgoing` masquerades pod traffic to any address outside its IP pools, so
 * replies from another cluster would come back to the node instead of the pod. A pool for
 * each remote CIDR, disabled (no address is ever allocated from it) and with `natOutgoing:
 * false`, makes Calico treat those addresses as in-cluster (the Go project and Submariner do
 * the same). Pools are named as the Go project names them, so mixed deployments share them.
 */
import type { Cluster } from '../../api/kinds.js';
import { type CIDR, cidrsOverlap, formatCIDR, parseCIDR } from '../../common/ip.js';
import { buildModel, exposed } from '../netconfig/model.js';
import {
  CALICO_API_VERSION,
  CALICO_IPPOOL,
  CLUSTERLINK_POOL_PREFIX,
  type CalicoIPPool,
} from './member-objects.js';
import { ownCalicoPools } from './pod-cidrs.js';

/** `clusterlink-<cluster>-<pod|service>-<cidr with . : / as ->`. */
export const remotePoolName = (cluster: string, kind: 'pod' | 'service', cidr: string): string =>
  `${CLUSTERLINK_POOL_PREFIX}${cluster}-${kind}-${cidr.replace(/[.:/]/g, '-')}`;

/**
 * Calico's own validation wants a pool no smaller than its block (default /26 and /122,
 * allowed 20–32 and 116–128): a longer remote prefix gets a block of its own length.
 */
const blockSize = (c: CIDR): number =>
  c.family === 4 ? Math.min(32, Math.max(26, c.prefix)) : Math.min(128, Math.max(122, c.prefix));

/**
 * The pools `self` (a Calico member) should have: one per remote cluster's pod and service
 * CIDR as other clusters reach it (its globalCIDRsMap image), except those that overlap one
 * of `self`'s own pools or CIDRs (the network manager routes none of those either).
 */
export function remoteCalicoPools(
  self: string,
  clusters: readonly Cluster[],
  memberPools: readonly CalicoIPPool[],
): CalicoIPPool[] {
  const models = buildModel(clusters, [], []);
  const me = models.find((m) => m.name === self);
  const local: CIDR[] = [
    ...ownCalicoPools(memberPools).flatMap((p) => {
      const c = parseCIDR(p.spec?.cidr ?? '');
      return c ? [c] : [];
    }),
    ...(me ? [...me.podCIDRs, ...me.serviceCIDRs] : []),
  ];
  const out = new Map<string, CalicoIPPool>();
  for (const m of models) {
    if (m.name === self) continue;
    for (const [kind, list] of [
      ['pod', m.podCIDRs],
      ['service', m.serviceCIDRs],
    ] as const) {
      for (const real of list) {
        const c = exposed(real, m);
        if (local.some((l) => cidrsOverlap(l, c))) continue;
        const cidr = formatCIDR(c);
        const name = remotePoolName(m.name, kind, cidr);
        out.set(name, {
          apiVersion: CALICO_API_VERSION,
          kind: CALICO_IPPOOL,
          metadata: { name },
          spec: {
            cidr,
            blockSize: blockSize(c),
            disabled: true,
            natOutgoing: false,
            disableBGPExport: true,
            ipipMode: 'Never',
            vxlanMode: 'Never',
          },
        });
      }
    }
  }
  return [...out.values()].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** What to write: wanted pools that are missing or differ, and ClusterLink pools no longer wanted. */
export function calicoPoolPlan(
  wanted: readonly CalicoIPPool[],
  existing: readonly CalicoIPPool[],
): { apply: CalicoIPPool[]; remove: string[] } {
  const have = new Map(existing.map((p) => [p.metadata?.name ?? '', p]));
  const names = new Set(wanted.map((p) => p.metadata?.name ?? ''));
  const differs = (w: CalicoIPPool, h: CalicoIPPool | undefined) =>
    !h || Object.entries(w.spec ?? {}).some(([k, v]) => h.spec?.[k] !== v);
  return {
    apply: wanted.filter((w) => differs(w, have.get(w.metadata?.name ?? ''))),
    remove: [...have.keys()].filter((n) => n.startsWith(CLUSTERLINK_POOL_PREFIX) && !names.has(n)).sort(),
  };
}
