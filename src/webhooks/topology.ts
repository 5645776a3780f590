/**
 * From a policy term's topology fields to the pod fields the kube-scheduler understands:
 *   topologySpreadConstraints[] → pod.spec.topologySpreadConstraints (one per entry)
 *   topologyAffinity[]          → required node affinity, ANDed into every existing term
 * Both merges are idempotent: what is already there is never added again, and what the
 * user wrote for the same key wins over the policy's default.
 */
import { LABEL_NODE, LABEL_POD_TEMPLATE_HASH, NON_WORKLOAD_LABELS } from '../api/constants.js';
import type { Affinity, NodeSelectorRequirement, Pod, TopologySpreadConstraint } from '../api/core.js';
import type { PolicyTerm } from '../api/kinds.js';

export interface TopologyResult {
  topologySpreadConstraints?: TopologySpreadConstraint[];
  affinity?: Affinity;
  warnings: string[];
}

/**
 * The pods a generated constraint counts: the pod's workload labels (what its controller's
 * selector is made of), with the Deployment revision added by the apiserver through
 * matchLabelKeys so old and new ReplicaSets do not skew each other during a rollout.
 */
function workloadSelector(pod: Pod): { matchLabels: Record<string, string>; matchLabelKeys: string[] } {
  const labels = pod.metadata?.labels ?? {};
  const matchLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (!NON_WORKLOAD_LABELS.includes(k)) matchLabels[k] = v;
  const matchLabelKeys = LABEL_POD_TEMPLATE_HASH in labels ? [LABEL_POD_TEMPLATE_HASH] : [];
  return { matchLabels, matchLabelKeys };
}

/** The node-type requirement that keeps spread domains to the nodes the term allows. */
function nodeTypeRequirement(term: PolicyTerm): NodeSelectorRequirement | undefined {
  if (term.nodeType === 'host') return { key: LABEL_NODE, operator: 'DoesNotExist' };
  if (term.nodeType === 'leaf') return { key: LABEL_NODE, operator: 'Exists' };
  return undefined;
}

function sameRequirement(a: NodeSelectorRequirement, b: NodeSelectorRequirement): boolean {
  const va = [...(a.values ?? [])].sort();
  const vb = [...(b.values ?? [])].sort();
  return (
    a.key === b.key && a.operator === b.operator && va.length === vb.length && va.every((v, i) => v === vb[i])
  );
}

function withRequiredExpressions(
  affinity: Affinity | undefined,
  reqs: NodeSelectorRequirement[],
): Affinity | undefined {
  if (reqs.length === 0) return affinity;
  const current =
    affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  // Terms are ORed, so a requirement must go into each of them to hold for every choice.
  const terms = current.length > 0 ? current : [{}];
  let changed = current.length === 0;
  const nextTerms = terms.map((t) => {
    const exprs = [...(t.matchExpressions ?? [])];
    for (const r of reqs) {
      if (!exprs.some((e) => sameRequirement(e, r))) {
        exprs.push(r);
        changed = true;
      }
    }
    return { ...t, matchExpressions: exprs };
  });
  if (!changed) return affinity;
  return {
    ...affinity,
    nodeAffinity: {
      ...affinity?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: nextTerms },
    },
  };
}

/** What the pod's spread constraints and affinity become under `term`; fields left out are unchanged. */
export function applyTopology(pod: Pod, term: PolicyTerm, policy: string): TopologyResult {
  const warnings: string[] = [];
  const result: TopologyResult = { warnings };
  const spreads = term.topologySpreadConstraints ?? [];
  const pins = term.topologyAffinity ?? [];
  if (spreads.length === 0 && pins.length === 0) return result;

  const requirements: NodeSelectorRequirement[] = pins.map((p) => ({
    key: p.topologyKey,
    operator: 'In',
    values: [...p.values],
  }));

  if (spreads.length > 0) {
    const existing = pod.spec.topologySpreadConstraints ?? [];
    const selector = workloadSelector(pod);
    if (Object.keys(selector.matchLabels).length === 0) {
      warnings.push(
        `${policy}: topologySpreadConstraints not applied: the pod has no labels to tell its workload's pods apart`,
      );
    } else {
      const added: TopologySpreadConstraint[] = [];
      for (const s of spreads) {
        const when = s.whenUnsatisfiable ?? 'DoNotSchedule';
        if (existing.some((e) => e.topologyKey === s.topologyKey && e.whenUnsatisfiable === when)) continue;
        const c: TopologySpreadConstraint = {
          maxSkew: s.maxSkew ?? 1,
          topologyKey: s.topologyKey,
          whenUnsatisfiable: when,
          labelSelector: { matchLabels: { ...selector.matchLabels } },
          // Honor: a node whose taints the pod does not tolerate is not a domain it could
          // balance into (virtual nodes for a host-only pod, for example).
          nodeTaintsPolicy: 'Honor',
        };
        if (selector.matchLabelKeys.length > 0) c.matchLabelKeys = [...selector.matchLabelKeys];
        added.push(c);
      }
      if (added.length > 0) result.topologySpreadConstraints = [...existing, ...added];
      // The kube-scheduler counts every node with the key as a domain; the node type rule
      // lives in the extender, so say it in the pod too or empty host (or leaf) domains skew it.
      const typeReq = nodeTypeRequirement(term);
      if (typeReq) requirements.push(typeReq);
    }
  }

  const affinity = withRequiredExpressions(pod.spec.affinity, requirements);
  if (affinity !== pod.spec.affinity && affinity) result.affinity = affinity;
  return result;
}
