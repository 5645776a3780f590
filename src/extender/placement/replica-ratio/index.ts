/**
 * Rule: per-domain replica counts and ratios (WorkloadPolicy).
 *
 * A pod that opts in with the workload-policy label is narrowed, at filter time, to exactly
 * one domain (a value of the policy's topologyKey, e.g. a leaf cluster): the feasible domain
 * furthest below its target. Because filter removes every other domain, the scheduler cannot
 * pick one of them, and because the chosen domain is reserved (by pod UID) before the answer
 * goes back, the next pod of a burst sees it. That is what makes the final counts exact
 * rather than approximate (compare Karmada #1385 / #6783, which only scored).
 *
 * Two forms:
 *  - counts: allocationPolicy[].replicas; Required closes full domains (Kosmos),
 *    Preferred lets overflow replicas go anywhere in the policy. Fill fills domains in
 *    policy order; Balance keeps count/replicas level.
 *  - ratio: allocationPolicy[].weight (static weights, as Karmada's staticWeightList);
 *    each replica goes where count is furthest below weight × (total+1) / Σweight, so any
 *    prefix of a scale-up keeps the ratio.
 */
import type { WorkloadPolicy } from '../../../api/kinds.js';
import { labelSelectorMatches } from '../../../common/selectors.js';
import type { LabelSelector } from '../../../api/meta.js';
import type { NodeView, PodView, RuleVerdict } from '../types.js';
import { namespacedKey } from '../../../common/object-key.js';

export const WLP_NOT_MATCH = "node(s) didn't match pod workload-policy constraints";
export const WLP_FULL =
  'node(s) occupied that scheduled pods reach the replicas configured in the workload-policy';

export function policyKey(policy: WorkloadPolicy): string {
  return namespacedKey(policy.metadata.namespace ?? 'default', policy.metadata.name ?? '');
}

/** Whether the pod is governed by `policy` at all; a verdict for every node when it cannot be. */
export function workloadGate(pod: PodView, policy: WorkloadPolicy | undefined): RuleVerdict {
  if (!policy) {
    return {
      ok: false,
      unresolvable: false,
      reason: `workload policy ${pod.namespace}/${pod.workloadPolicy ?? ''} not found`,
    };
  }
  if (!labelSelectorMatches(policy.spec.labelSelector as LabelSelector, pod.labels)) {
    return {
      ok: false,
      unresolvable: false,
      reason: `${WLP_NOT_MATCH} (pod labels do not match ${policyKey(policy)})`,
    };
  }
  return { ok: true };
}

/** The node's domain, or a verdict when the node has none or one the policy does not name. */
export function domainOf(
  policy: WorkloadPolicy,
  node: NodeView,
): { domain: string } | { verdict: RuleVerdict } {
  const domain = node.labels[policy.spec.topologyKey];
  if (domain === undefined) {
    return {
      verdict: { ok: false, unresolvable: true, reason: `${WLP_NOT_MATCH} (missing required label)` },
    };
  }
  if (!policy.spec.allocationPolicy.some((e) => e.name === domain)) {
    return { verdict: { ok: false, unresolvable: false, reason: `${WLP_NOT_MATCH} (not match value)` } };
  }
  return { domain };
}

export interface DomainPlan {
  /** The one domain this replica must go to; undefined lets it use any domain of the policy. */
  target?: string;
  /** Why each other feasible domain is closed to this replica. */
  closed: Map<string, { reason: string; unresolvable: boolean }>;
  /** Score per domain when no target is forced (Preferred overflow). */
  scores?: Map<string, number>;
}

function describeCounts(
  policy: WorkloadPolicy,
  counts: ReadonlyMap<string, number>,
  weighted: boolean,
): string {
  return policy.spec.allocationPolicy
    .map((e) => `${e.name} ${counts.get(e.name) ?? 0}/${weighted ? `w${e.weight ?? 0}` : (e.replicas ?? 0)}`)
    .join(', ');
}

/**
 * Choose the domain for the next replica. `feasible` lists the domains that still have at
 * least one node passing every other rule; `counts` holds pods already counted per domain
 * (bound or reserved, not this pod).
 */
export function planDomains(
  policy: WorkloadPolicy,
  feasible: ReadonlySet<string>,
  counts: ReadonlyMap<string, number>,
): DomainPlan {
  const entries = policy.spec.allocationPolicy;
  const weighted = entries.some((e) => e.weight !== undefined);
  const key = policyKey(policy);
  const closed = new Map<string, { reason: string; unresolvable: boolean }>();
  const count = (d: string): number => counts.get(d) ?? 0;
  const state = describeCounts(policy, counts, weighted);
  let target: string | undefined;

  if (weighted) {
    const totalWeight = entries.reduce((s, e) => s + (e.weight ?? 0), 0);
    const total = entries.reduce((s, e) => s + count(e.name), 0) + 1;
    let best = -Infinity;
    for (const e of entries) {
      if (!feasible.has(e.name) || !e.weight) continue;
      const deficit = (e.weight * total) / totalWeight - count(e.name);
      if (deficit > best + 1e-9) {
        best = deficit;
        target = e.name;
      }
    }
  } else {
    const open = entries.filter((e) => feasible.has(e.name) && count(e.name) < (e.replicas ?? 0));
    if (open.length === 0) {
      if (policy.spec.allocationType === 'Required') {
        for (const d of feasible)
          closed.set(d, { reason: `${WLP_FULL} (${key}: ${state})`, unresolvable: true });
        return { closed };
      }
      // Preferred: replicas beyond the counts may go to any domain, leaning by the method.
      const scores = new Map<string, number>();
      for (const e of entries) {
        const desired = Math.max(e.replicas ?? 0, 1);
        const ratio = count(e.name) / desired;
        const s = policy.spec.allocationMethod === 'Fill' ? ratio * 10 : (1 - ratio) * 10;
        scores.set(e.name, Math.max(0, Math.min(10, Math.round(s))));
      }
      return { closed, scores };
    }
    if (policy.spec.allocationMethod === 'Fill') target = open[0]?.name;
    else {
      let best = Infinity;
      for (const e of open) {
        const ratio = count(e.name) / (e.replicas ?? 1);
        if (ratio < best - 1e-9) {
          best = ratio;
          target = e.name;
        }
      }
    }
  }

  for (const d of feasible) {
    if (d !== target) {
      closed.set(d, {
        reason: `workload policy ${key} places this replica in ${target ?? 'no domain'} (${state})`,
        unresolvable: false,
      });
    }
  }
  return target === undefined ? { closed } : { target, closed };
}
