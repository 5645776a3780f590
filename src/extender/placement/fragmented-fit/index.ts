/**
 * Rule: fragmented resources. A leaf node passes only if one member node it stands for can
 * hold the whole pod; the answer comes from the fit index. Host nodes are left to the
 * in-tree NodeResourcesFit plugin. Failures are resolvable (FailedNodes): capacity frees up.
 */
import { PASS, type NodeView, type PlacementWorld, type PodView, type RuleVerdict } from '../types.js';

export function checkFragmentedFit(pod: PodView, node: NodeView, world: PlacementWorld): RuleVerdict {
  if (!node.leaf) return PASS;
  const answer = world.memberFit(node, pod);
  // Nothing known about that cluster yet (not fed or not reachable): do not block on it.
  if (!answer || answer.ok) return PASS;
  return {
    ok: false,
    unresolvable: false,
    reason: `${node.cluster ?? node.name}: ${answer.reason ?? 'no member node fits'}`,
  };
}
