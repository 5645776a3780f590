/**
 * Mutation of a pod governed by a DistributionPolicy or ClusterDistributionPolicy: send it to
 * the Kosmos scheduler, let it onto virtual nodes when its policy allows leaf nodes, and turn
 * the term's topology fields into spread constraints and node affinity. Pure: pod and
 * policies in, JSONPatch out. Applying the result to its own output changes nothing.
 */
import { DEFAULT_KUBE_SCHEDULER, DEFAULT_SCHEDULER_NAME, TAINT_NODE } from '../api/constants.js';
import type { Pod, PodSpec, Toleration } from '../api/core.js';
import { allowsLeafNodes, describePolicy, type PolicyObject } from '../common/distribution-policy.js';
import { toleratedBy } from '../common/selectors.js';
import { resolveAtAdmission } from './admission-pod.js';
import type { JsonPatchOp } from './review.js';
import { applyTopology } from './topology.js';

export interface PodMutationOptions {
  schedulerName?: string;
}

export interface PodMutation {
  /** Empty when the pod is not governed or already mutated. */
  patch: JsonPatchOp[];
  /** The pod after the patch (the input object when nothing changes). */
  pod: Pod;
  /** The governing policy, for logs and metrics; undefined when none matches. */
  policy?: string;
  warnings: string[];
}

export const LEAF_TOLERATION: Toleration = {
  key: TAINT_NODE.key,
  operator: 'Exists',
  effect: TAINT_NODE.effect,
};

export function mutatePod(
  pod: Pod,
  namespace: string | undefined,
  policies: readonly PolicyObject[],
  options: PodMutationOptions = {},
): PodMutation {
  const resolved = resolveAtAdmission(pod, namespace, policies);
  if (!resolved) return { patch: [], pod, warnings: [] };
  const policy = describePolicy(resolved);
  const schedulerName = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
  const warnings: string[] = [];
  const spec: PodSpec = { ...pod.spec };
  const patch: JsonPatchOp[] = [];

  // The apiserver defaults schedulerName before admission, so "default-scheduler" means
  // "the user did not choose"; any other name is a choice we leave alone and say so.
  const current = pod.spec.schedulerName;
  if (current === undefined || current === '' || current === DEFAULT_KUBE_SCHEDULER) {
    if (current !== schedulerName) {
      spec.schedulerName = schedulerName;
      patch.push({ op: 'add', path: '/spec/schedulerName', value: schedulerName });
    }
  } else if (current !== schedulerName) {
    warnings.push(
      `${policy} governs this pod but spec.schedulerName is ${JSON.stringify(current)}; it is kept, so the policy is not enforced`,
    );
  }

  if (allowsLeafNodes(resolved) && !toleratedBy(pod.spec.tolerations, TAINT_NODE)) {
    spec.tolerations = [...(pod.spec.tolerations ?? []), { ...LEAF_TOLERATION }];
    patch.push({ op: 'add', path: '/spec/tolerations', value: spec.tolerations });
  }

  if (resolved.term) {
    const topo = applyTopology(pod, resolved.term, policy);
    warnings.push(...topo.warnings);
    if (topo.topologySpreadConstraints) {
      spec.topologySpreadConstraints = topo.topologySpreadConstraints;
      patch.push({
        op: 'add',
        path: '/spec/topologySpreadConstraints',
        value: topo.topologySpreadConstraints,
      });
    }
    if (topo.affinity) {
      spec.affinity = topo.affinity;
      patch.push({ op: 'add', path: '/spec/affinity', value: topo.affinity });
    }
  }

  if (patch.length === 0) return { patch, pod, policy, warnings };
  return { patch, pod: { ...pod, spec }, policy, warnings };
}
