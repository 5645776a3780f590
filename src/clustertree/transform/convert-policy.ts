/**
 * PodConvertPolicy / ClusterPodConvertPolicy: per-cluster rewrites of a leaf pod's
 * scheduling fields. Cluster-wide policies take precedence when any exists (as in Kosmos);
 * a policy matches when its labelSelector matches the pod and its leafNodeSelector (unset =
 * all) matches the virtual node; the first match by name wins. Each converter adds (only if
 * the field is empty), removes, or replaces its field. Unlike Kosmos, `add` for
 * topologySpreadConstraints looks at the constraints themselves, not at the affinity.
 */
import type { Pod, PodSpec } from '../../api/core.js';
import type { ClusterPodConvertPolicy, PodConvertPolicy, PodConvertPolicySpec } from '../../api/kinds.js';
import { labelSelectorMatches } from '../../common/selectors.js';

export interface ConvertPolicies {
  cluster: readonly ClusterPodConvertPolicy[];
  namespaced: readonly PodConvertPolicy[];
}

type Converters = NonNullable<PodConvertPolicySpec['converters']>;

export function selectConvertPolicy(
  policies: ConvertPolicies,
  podLabels: Record<string, string> | undefined,
  nodeLabels: Record<string, string> | undefined,
  namespace: string,
): PodConvertPolicy | ClusterPodConvertPolicy | undefined {
  const candidates: (PodConvertPolicy | ClusterPodConvertPolicy)[] =
    policies.cluster.length > 0
      ? [...policies.cluster]
      : policies.namespaced.filter((p) => p.metadata.namespace === namespace);
  candidates.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  return candidates.find(
    (p) =>
      p.spec.converters !== undefined &&
      labelSelectorMatches(p.spec.labelSelector, podLabels) &&
      (p.spec.leafNodeSelector === undefined || labelSelectorMatches(p.spec.leafNodeSelector, nodeLabels)),
  );
}

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && Object.keys(v as object).length === 0);

function convert(spec: PodSpec, field: string, type: 'add' | 'remove' | 'replace', value: unknown): void {
  if (type === 'remove') {
    delete spec[field];
    return;
  }
  if (type === 'add' && !isEmpty(spec[field])) return;
  if (isEmpty(value)) delete spec[field];
  else spec[field] = structuredClone(value);
}

/** Applies the converters in Kosmos' order; mutates and returns `pod`. */
export function applyConverters(pod: Pod, converters: Converters): Pod {
  const c = converters;
  if (c.schedulerNameConverter)
    convert(
      pod.spec,
      'schedulerName',
      c.schedulerNameConverter.convertType,
      c.schedulerNameConverter.schedulerName,
    );
  if (c.nodeNameConverter)
    convert(pod.spec, 'nodeName', c.nodeNameConverter.convertType, c.nodeNameConverter.nodeName);
  if (c.nodeSelectorConverter)
    convert(
      pod.spec,
      'nodeSelector',
      c.nodeSelectorConverter.convertType,
      c.nodeSelectorConverter.nodeSelector,
    );
  if (c.tolerationConverter)
    convert(pod.spec, 'tolerations', c.tolerationConverter.convertType, c.tolerationConverter.tolerations);
  if (c.affinityConverter)
    convert(pod.spec, 'affinity', c.affinityConverter.convertType, c.affinityConverter.affinity);
  if (c.topologySpreadConstraintsConverter) {
    const t = c.topologySpreadConstraintsConverter;
    convert(pod.spec, 'topologySpreadConstraints', t.convertType, t.topologySpreadConstraints);
  }
  if (c.hostAliasesConverter)
    convert(pod.spec, 'hostAliases', c.hostAliasesConverter.convertType, c.hostAliasesConverter.hostAliases);
  return pod;
}
