/**
 * What a virtual node offers, and what each member node has free.
 *
 * A virtual node's capacity and allocatable are the allocatable of its usable member nodes
 * (Ready and schedulable) less the requests of the pods on them that Kosmos did not place:
 * Kosmos-placed pods are already counted by the host scheduler against the virtual node, so
 * subtracting them again would count them twice. Unlike the Go project, only pods on the
 * virtual node's own member nodes are subtracted (a party node is not shrunk by pods of
 * nodes outside its selector), and Pending pods already bound to a member hold resources
 * just as Running ones do.
 */
import { LABEL_POD } from '../../api/constants.js';
import type { Node, Pod, Taint } from '../../api/core.js';
import {
  addResources as add,
  isTerminal,
  nodeReady,
  nodeUsable,
  podRequests,
  toQuantities,
  toResources,
  type Resources,
} from '../../common/resources.js';

/** ClusterTree's node sync counts usable members with the same rule as the capacity here. */
export { nodeUsable };

export const placedByKosmos = (pod: Pod): boolean => pod.metadata?.labels?.[LABEL_POD] === 'true';

/** Pods that hold resources on a node: bound, not finished. */
function holdsResources(pod: Pod): boolean {
  return Boolean(pod.spec.nodeName) && !isTerminal(pod);
}

export interface VirtualCapacity {
  /** Quantity strings, ready for Node.status.capacity / allocatable. */
  allocatable: Record<string, string>;
  usableMembers: number;
}

/** Capacity of a virtual node standing for `members`, given every pod of the leaf cluster. */
export function virtualNodeCapacity(members: readonly Node[], pods: readonly Pod[]): VirtualCapacity {
  const usable = members.filter(nodeUsable);
  const names = new Set(usable.map((n) => n.metadata?.name ?? ''));
  const total: Resources = {};
  for (const n of usable) add(total, toResources(n.status?.allocatable));
  for (const p of pods) {
    if (!holdsResources(p) || placedByKosmos(p) || !names.has(p.spec.nodeName ?? '')) continue;
    const req = podRequests(p);
    // Only resources the members offer are reduced (a pod's slot among them); a request for
    // something absent is the scheduler's problem.
    for (const [k, v] of Object.entries(req)) if (k in total) total[k] = (total[k] ?? 0) - v;
  }
  return { allocatable: toQuantities(total), usableMembers: usable.length };
}

/** One member node's free resources, summarised in Cluster.status.clusterTreeStatus.largestFree. */
export interface MemberFree {
  allocatable: Record<string, string>;
  /** Requests of every non-terminal pod bound to the node, Kosmos-placed or not. */
  requested: Record<string, string>;
  free: Record<string, string>;
  labels: Record<string, string>;
  taints: Taint[];
  ready: boolean;
  schedulable: boolean;
}

export function memberFree(members: readonly Node[], pods: readonly Pod[]): Map<string, MemberFree> {
  const requested = new Map<string, Resources>();
  for (const p of pods) {
    if (!holdsResources(p)) continue;
    const r = requested.get(p.spec.nodeName as string) ?? {};
    add(r, podRequests(p));
    requested.set(p.spec.nodeName as string, r);
  }
  const out = new Map<string, MemberFree>();
  for (const n of members) {
    const name = n.metadata?.name ?? '';
    const alloc = toResources(n.status?.allocatable);
    const req = requested.get(name) ?? {};
    const free: Resources = {};
    for (const [k, v] of Object.entries(alloc)) free[k] = v - (req[k] ?? 0);
    out.set(name, {
      allocatable: toQuantities(alloc),
      requested: toQuantities(req),
      free: toQuantities(free),
      labels: { ...(n.metadata?.labels ?? {}) },
      taints: [...(n.spec?.taints ?? [])],
      ready: nodeReady(n),
      schedulable: !n.spec?.unschedulable,
    });
  }
  return out;
}

/** Largest free amount of each resource on one usable member node (Cluster.status summary). */
export function largestFree(entries: Iterable<MemberFree>): Record<string, string> {
  const best: Resources = {};
  for (const e of entries) {
    if (!e.ready || !e.schedulable) continue;
    const free = toResources(e.free);
    for (const [k, v] of Object.entries(free)) best[k] = Math.max(best[k] ?? Number.NEGATIVE_INFINITY, v);
  }
  return toQuantities(best);
}
