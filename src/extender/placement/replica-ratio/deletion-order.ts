/**
 * Scale-down that keeps the ratio. The ReplicaSet controller deletes the pods with the
 * lowest pod-deletion-cost first; left alone it prefers pods on nodes holding more replicas,
 * which on one-node-per-cluster leaves drifts towards equal counts (3:6 scaled to 6 becomes
 * 3:3). This computes, for the pods of one WorkloadPolicy, the order in which removing them
 * keeps every intermediate count as close to the policy as possible: repeatedly take a pod
 * from the domain furthest above its share of the remaining total. The adapter writes the
 * rank as the pod's deletion cost (needs the annotation constant in src/api/constants.ts).
 */
import type { WorkloadPolicy } from '../../../api/kinds.js';

export interface DomainPod {
  uid: string;
  domain: string;
}

/** Deletion rank per pod UID: 0 is deleted first. */
export function deletionOrder(policy: WorkloadPolicy, pods: readonly DomainPod[]): Map<string, number> {
  const entries = policy.spec.allocationPolicy;
  const weighted = entries.some((e) => e.weight !== undefined);
  const share = new Map(entries.map((e) => [e.name, weighted ? (e.weight ?? 0) : (e.replicas ?? 0)]));
  const totalShare = [...share.values()].reduce((a, b) => a + b, 0);
  const byDomain = new Map<string, string[]>();
  for (const p of pods) {
    const list = byDomain.get(p.domain) ?? [];
    list.push(p.uid);
    byDomain.set(p.domain, list);
  }
  for (const list of byDomain.values()) list.sort(); // deterministic within a domain
  const order = new Map<string, number>();
  let remaining = pods.length;
  for (let rank = 0; remaining > 0; rank++) {
    let worst: string | undefined;
    let worstSurplus = -Infinity;
    for (const [domain, list] of byDomain) {
      if (list.length === 0) continue;
      const s = share.get(domain) ?? 0;
      // Domains outside the policy go first; then the largest surplus over the ideal split of
      // what is left after this removal (judging by the split before it breaks ties wrongly:
      // 3:6 less one must become 3:5, not 2:6).
      const surplus =
        s === 0 || totalShare === 0 ? Infinity : list.length - (s * (remaining - 1)) / totalShare;
      if (surplus > worstSurplus + 1e-9) {
        worstSurplus = surplus;
        worst = domain;
      }
    }
    const uid = byDomain.get(worst as string)?.pop() as string;
    order.set(uid, rank);
    remaining--;
  }
  return order;
}
