/**
 * Rule: taints. The scheduler config disables the in-tree TaintToleration filter, so this
 * rule judges every NoSchedule/NoExecute taint: a pod whose policy lets it use leaf nodes
 * tolerates the kosmos.io/node NoSchedule taint (any value) without declaring it, as Kosmos
 * does; an `adv` term's tolerations count as the pod's own; everything else needs a toleration.
 */
import { LABEL_NODE } from '../../../api/constants.js';
import type { Taint, Toleration } from '../../../api/core.js';
import { allowsLeafNodes, type ResolvedPolicy } from '../../../common/distribution-policy.js';
import { toleratedBy } from '../../../common/selectors.js';
import { PASS, type NodeView, type RuleVerdict } from '../types.js';

export function isLeafTaint(taint: Taint): boolean {
  return taint.key === LABEL_NODE && taint.effect === 'NoSchedule';
}

/** Tolerations the pod effectively has under its policy. */
export function effectiveTolerations(
  podTolerations: readonly Toleration[],
  policy: ResolvedPolicy | undefined,
): readonly Toleration[] {
  const extra = policy?.nodeType === 'adv' ? (policy.term?.advancedTerm?.tolerations ?? []) : [];
  return extra.length > 0 ? [...podTolerations, ...(extra as Toleration[])] : podTolerations;
}

export function checkTaints(
  tolerations: readonly Toleration[],
  policy: ResolvedPolicy | undefined,
  node: NodeView,
): RuleVerdict {
  const leafAllowed = allowsLeafNodes(policy);
  for (const taint of node.taints) {
    if (leafAllowed && isLeafTaint(taint)) continue;
    if (toleratedBy(tolerations, taint)) continue;
    return {
      ok: false,
      unresolvable: true,
      reason: `node(s) had taint {${taint.key}: ${taint.value ?? ''}}, that the pod didn't tolerate`,
    };
  }
  return PASS;
}
