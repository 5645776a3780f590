/**
 * Labels that Kubernetes' own controllers put on the pods they create, which decide how a
 * generated topology spread constraint selects "the pods of the same workload".
 *
 * These belong in src/api/constants.ts (the one file that spells label keys); that file is
 * owned by the API module and this list is waiting to move there. Nothing else in the
 * webhooks spells them.
 */

/** Differs between revisions of one Deployment: used as matchLabelKeys so a rolling update spreads the new ReplicaSet on its own. */
export const LABEL_POD_TEMPLATE_HASH = 'pod-template-hash';

/**
 * Never copied into a generated labelSelector: per-revision labels (selecting by them would
 * pin the selector to one revision forever) and per-pod labels (a selector holding them
 * selects only the pod itself, so spreading would mean nothing).
 */
export const NON_WORKLOAD_LABELS: readonly string[] = [
  LABEL_POD_TEMPLATE_HASH,
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/job-completion-index',
];

/** Namespace label the apiserver sets on every namespace; the webhook configurations select on it. */
export const LABEL_NAMESPACE_NAME = 'kubernetes.io/metadata.name';

/** The kube-scheduler's name, which the apiserver defaults into every pod before admission. */
export const DEFAULT_KUBE_SCHEDULER = 'default-scheduler';
