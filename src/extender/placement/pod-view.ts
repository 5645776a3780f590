/** Turns a Pod into a PodView: effective requests, tolerations, and constraints as they apply in a leaf. */
import {
  LABEL_CLUSTER,
  LABEL_HOSTNAME,
  LABEL_NODE,
  LABEL_ROLE_AGENT,
  LABEL_WORKLOAD_POLICY,
} from '../../api/constants.js';
import type { NodeSelectorTerm, Pod } from '../../api/core.js';
import { isDaemonSetPod } from '../../common/distribution-policy.js';
import { podRequests } from '../../common/resources.js';
import type { MemberConstraints, PodView } from './types.js';
import { namespacedKey } from '../../common/object-key.js';

/**
 * Keys that exist only on the virtual node in the host cluster; ClusterTree drops them when it
 * creates the pod in the leaf, so they must not be checked against member nodes.
 */
const VIRTUAL_ONLY_KEYS = new Set([LABEL_NODE, LABEL_CLUSTER, LABEL_HOSTNAME, LABEL_ROLE_AGENT]);

function memberConstraints(pod: Pod): MemberConstraints {
  const nodeSelector: Record<string, string> = {};
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {}))
    if (!VIRTUAL_ONLY_KEYS.has(k)) nodeSelector[k] = v;
  const required =
    pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  let requiredTerms: NodeSelectorTerm[] | undefined;
  if (required && required.length > 0) {
    requiredTerms = [];
    for (const t of required) {
      const matchExpressions = (t.matchExpressions ?? []).filter((e) => !VIRTUAL_ONLY_KEYS.has(e.key));
      // A term that only spoke about the virtual node places no constraint in the leaf.
      if (matchExpressions.length === 0) {
        requiredTerms = undefined;
        break;
      }
      requiredTerms.push({ matchExpressions });
    }
  }
  return { nodeSelector, requiredTerms, tolerations: pod.spec.tolerations ?? [] };
}

export function toPodView(pod: Pod): PodView {
  const meta = pod.metadata ?? {};
  const name = meta.name ?? '';
  const claimNames: string[] = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim) claimNames.push(v.persistentVolumeClaim.claimName);
    else if (v['ephemeral']) claimNames.push(`${name}-${v.name}`); // generic ephemeral volume PVC naming
  }
  const view: PodView = {
    uid: meta.uid ?? namespacedKey(meta.namespace ?? 'default', name),
    namespace: meta.namespace ?? 'default',
    name,
    labels: meta.labels ?? {},
    daemonSet: isDaemonSetPod(pod),
    requests: podRequests(pod),
    tolerations: pod.spec.tolerations ?? [],
    member: memberConstraints(pod),
    claimNames,
  };
  const wlp = meta.labels?.[LABEL_WORKLOAD_POLICY];
  if (wlp) view.workloadPolicy = wlp;
  return view;
}
