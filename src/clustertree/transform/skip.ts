/**
 * Which host pods bound to a virtual node ClusterTree does not run in the leaf, as Kosmos
 * skips them (same keys):
 *
 * - pods in kube-system: the host's own components;
 * - pods labelled `daemonset.kosmos.io/managed`: pods of Kosmos' global DaemonSets, which
 *   are mirrored from the leaf where they run, not sent to it;
 * - pods of a DaemonSet, unless annotated `kosmos-io/daemonset-allow`: a DaemonSet that
 *   tolerates every taint (kube-proxy, CNI and log agents do) also gets a pod on every
 *   virtual node, and one free-floating copy per leaf is not what it asked for.
 *
 * A pod being deleted is never skipped: no kubelet but ClusterTree finalizes a pod bound to
 * a virtual node, so its deletion must go through (and any leaf pod of it with it).
 */
import { ANNOTATION_DAEMONSET_ALLOW, LABEL_DAEMONSET_MANAGED } from '../../api/constants.js';
import type { Pod } from '../../api/core.js';
import { isDaemonSetPod } from '../../common/distribution-policy.js';
import { KUBE_SYSTEM_NAMESPACE } from '../names.js';

/** The Event reason on a pod ClusterTree leaves in the host. */
export const NOT_SYNCED_REASON = 'NotSyncedToLeaf';

export type SkipCause = 'kube-system' | 'kosmos-daemonset' | 'daemonset';

export interface Skip {
  cause: SkipCause;
  /** What the pod's Event says, so `kubectl describe pod` tells why it stays Pending. */
  message: string;
}

export function podNotSynced(pod: Pod, cluster: string): Skip | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  if ((pod.metadata?.namespace ?? 'default') === KUBE_SYSTEM_NAMESPACE)
    return {
      cause: 'kube-system',
      message: `pods in ${KUBE_SYSTEM_NAMESPACE} stay in the host cluster: not run in leaf cluster ${cluster}`,
    };
  if (pod.metadata?.labels?.[LABEL_DAEMONSET_MANAGED] !== undefined)
    return {
      cause: 'kosmos-daemonset',
      message: `pods labelled ${LABEL_DAEMONSET_MANAGED} are mirrored from a leaf cluster: not run in leaf cluster ${cluster}`,
    };
  if (isDaemonSetPod(pod) && pod.metadata?.annotations?.[ANNOTATION_DAEMONSET_ALLOW] === undefined)
    return {
      cause: 'daemonset',
      message: `DaemonSet pods are not run in leaf cluster ${cluster}; annotate the pod template with ${ANNOTATION_DAEMONSET_ALLOW} to run them there`,
    };
  return undefined;
}
