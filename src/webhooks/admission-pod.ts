/**
 * The pod as the policy resolver should see it at admission time. A pod created with
 * generateName has no name yet (the apiserver names it after admission), so name and
 * namePrefix selectors are matched against generateName followed by a character no pod
 * name can hold: a namePrefix that generateName starts with matches, as it will for the
 * final name; an exact name never matches, as it never will. A namePrefix longer than
 * generateName cannot be decided here; the extender decides it at filter time.
 */
import type { Pod } from '../api/core.js';
import type { ResolvedPolicy } from '../common/distribution-policy.js';
import { resolvePolicy, type PolicyObject } from '../common/distribution-policy.js';

const NOT_A_NAME_CHARACTER = '\u0000';

export function podForResolution(pod: Pod, namespace: string | undefined): Pod {
  const meta = pod.metadata ?? {};
  const name = meta.name || (meta.generateName ? `${meta.generateName}${NOT_A_NAME_CHARACTER}` : '');
  return { ...pod, metadata: { ...meta, name, namespace: meta.namespace || namespace || 'default' } };
}

/** resolvePolicy on the admission view of the pod; `namespace` is the review's, for pods that omit it. */
export function resolveAtAdmission(
  pod: Pod,
  namespace: string | undefined,
  policies: readonly PolicyObject[],
): ResolvedPolicy | undefined {
  return resolvePolicy(podForResolution(pod, namespace), policies);
}
