/**
 * Which DistributionPolicy / ClusterDistributionPolicy term applies to a pod. Shared by
 * the scheduler extender (which nodes a pod may use) and the mutating webhook (which
 * scheduler and tolerations a pod gets), so both always agree.
 *
 * Precedence (deterministic, unlike Kosmos' "last object in lister order wins"):
 *   name > namePrefix > labelSelector; any namespaced DistributionPolicy match beats any
 *   ClusterDistributionPolicy match; among equal matches the oldest object wins
 *   (creationTimestamp), then the smallest name. Inside one object the selectors are
 *   independent alternatives and a later selector of the same rank overrides an earlier one,
 *   as in Kosmos.
 */
import type { Pod } from '../api/core.js';
import type {
  ClusterDistributionPolicy,
  DistributionPolicy,
  PolicyTerm,
  ResourceSelector,
} from '../api/kinds.js';
import type { LabelSelector } from '../api/meta.js';
import { expressionMatches } from './selectors.js';
import type { NodeType } from '../api/constants.js';

export type PolicyObject = DistributionPolicy | ClusterDistributionPolicy;

/** Ranks: CDP label 1, prefix 2, name 3; DP label 4, prefix 5, name 6 (as Kosmos numbers them). */
export type MatchRank = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export interface ResolvedPolicy {
  kind: 'DistributionPolicy' | 'ClusterDistributionPolicy';
  name: string;
  namespace?: string;
  rank: MatchRank;
  selectorIndex: number;
  /** The term the matching selector names; undefined if the object has no such term. */
  term: PolicyTerm | undefined;
  nodeType: NodeType;
}

/**
 * Kosmos' pod label match: matchLabels pairs are alternatives (any one present matches);
 * matchExpressions, which Kosmos ignores, must all hold. An empty selector matches nothing.
 */
export function policyLabelSelectorMatches(
  sel: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!sel) return false;
  const pairs = Object.entries(sel.matchLabels ?? {});
  const exprs = sel.matchExpressions ?? [];
  if (pairs.length === 0 && exprs.length === 0) return false;
  if (pairs.length > 0 && !pairs.some(([k, v]) => labels[k] === v)) return false;
  return exprs.every((e) => expressionMatches(e, labels));
}

function selectorRank(sel: ResourceSelector, pod: Pod, base: 0 | 3): MatchRank {
  const name = pod.metadata?.name ?? '';
  const labels = pod.metadata?.labels ?? {};
  if (sel.name && name === sel.name) return (base + 3) as MatchRank;
  if (sel.namePrefix && name.startsWith(sel.namePrefix)) return (base + 2) as MatchRank;
  if (policyLabelSelectorMatches(sel.labelSelector as LabelSelector | undefined, labels)) {
    return (base + 1) as MatchRank;
  }
  return 0;
}

function bestInObject(obj: PolicyObject, pod: Pod, base: 0 | 3): { rank: MatchRank; index: number } {
  let best: { rank: MatchRank; index: number } = { rank: 0, index: -1 };
  obj.spec.resourceSelectors.forEach((sel, index) => {
    const rank = selectorRank(sel, pod, base);
    if (rank > 0 && rank >= best.rank) best = { rank, index };
  });
  return best;
}

function olderFirst(a: PolicyObject, b: PolicyObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

export function isDaemonSetPod(pod: Pod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet');
}

/**
 * The policy that governs `pod`, or undefined when none matches (the pod may then use every
 * node, Kosmos' "mix"). `policies` may hold DPs of any namespace and CDPs; DPs of other
 * namespaces are ignored. DaemonSet pods are never governed.
 */
export function resolvePolicy(pod: Pod, policies: readonly PolicyObject[]): ResolvedPolicy | undefined {
  if (isDaemonSetPod(pod)) return undefined;
  const namespace = pod.metadata?.namespace ?? 'default';
  let winner: { obj: PolicyObject; rank: MatchRank; index: number } | undefined;
  for (const obj of policies) {
    const namespaced = obj.kind === 'DistributionPolicy';
    if (namespaced && (obj.metadata.namespace ?? 'default') !== namespace) continue;
    const { rank, index } = bestInObject(obj, pod, namespaced ? 3 : 0);
    if (rank === 0) continue;
    if (!winner || rank > winner.rank || (rank === winner.rank && olderFirst(obj, winner.obj) < 0)) {
      winner = { obj, rank, index };
    }
  }
  if (!winner) return undefined;
  const selector = winner.obj.spec.resourceSelectors[winner.index];
  const term = winner.obj.spec.policyTerms.find((t) => t.name === selector?.policyName);
  const resolved: ResolvedPolicy = {
    kind: winner.obj.kind,
    name: winner.obj.metadata.name ?? '',
    rank: winner.rank,
    selectorIndex: winner.index,
    term,
    nodeType: (term?.nodeType as NodeType | undefined) ?? 'mix',
  };
  if (winner.obj.kind === 'DistributionPolicy' && winner.obj.metadata.namespace) {
    resolved.namespace = winner.obj.metadata.namespace;
  }
  return resolved;
}

/** "DistributionPolicy ns/name" or "ClusterDistributionPolicy name", for messages. */
export function describePolicy(p: Pick<ResolvedPolicy, 'kind' | 'name' | 'namespace'>): string {
  return p.namespace ? `${p.kind} ${p.namespace}/${p.name}` : `${p.kind} ${p.name}`;
}

/** Whether a resolved term can place pods on leaf (virtual) nodes at all. */
export function allowsLeafNodes(policy: ResolvedPolicy | undefined): boolean {
  if (!policy) return true;
  return policy.nodeType !== 'host';
}
