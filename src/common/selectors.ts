/** Kubernetes matching rules shared by the extender, the webhooks and ClusterTree. */
import type { NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration } from '../api/core.js';
import type { LabelSelector, LabelSelectorRequirement } from '../api/meta.js';

type Labels = Readonly<Record<string, string>> | undefined;

/** One label-selector or node-selector requirement against a label set. */
export function expressionMatches(
  req: LabelSelectorRequirement | NodeSelectorRequirement,
  labels: Labels,
): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, req.key);
  const value = has ? labels[req.key] : undefined;
  switch (req.operator) {
    case 'In':
      return has && (req.values ?? []).includes(value as string);
    case 'NotIn':
      return !has || !(req.values ?? []).includes(value as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has) return false;
      const left = Number.parseInt(value as string, 10);
      const right = Number.parseInt((req.values ?? [])[0] ?? '', 10);
      if (Number.isNaN(left) || Number.isNaN(right)) return false;
      return req.operator === 'Gt' ? left > right : left < right;
    }
  }
}

/** metav1.LabelSelector semantics: matchLabels and matchExpressions all ANDed; an empty selector matches all. */
export function labelSelectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels?.[k] !== v) return false;
  }
  return (selector.matchExpressions ?? []).every((e) => expressionMatches(e, labels));
}

/** Every pair of `subset` is in `labels` (a pod's nodeSelector against a node). */
export function labelsContain(labels: Labels, subset: Labels): boolean {
  for (const [k, v] of Object.entries(subset ?? {})) {
    if (labels?.[k] !== v) return false;
  }
  return true;
}

/** A required node-affinity term: all expressions ANDed; fields support metadata.name. */
export function nodeSelectorTermMatches(term: NodeSelectorTerm, labels: Labels, nodeName: string): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  if (!exprs.every((e) => expressionMatches(e, labels))) return false;
  return fields.every(
    (f) => f.key === 'metadata.name' && expressionMatches(f, { 'metadata.name': nodeName }),
  );
}

/** Terms are ORed, as in nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution. */
export function nodeSelectorMatches(
  terms: readonly NodeSelectorTerm[],
  labels: Labels,
  nodeName: string,
): boolean {
  return terms.some((t) => nodeSelectorTermMatches(t, labels, nodeName));
}

/** core/v1 Toleration.ToleratesTaint. */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  const op = toleration.operator ?? 'Equal';
  if (op === 'Exists') return true;
  if (!toleration.key) return false; // an empty key is only valid with Exists
  return (toleration.value ?? '') === (taint.value ?? '');
}

export function toleratedBy(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => tolerates(t, taint));
}
