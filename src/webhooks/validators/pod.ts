/**
 * A pod whose own nodeSelector, node affinity or nodeName leaves no node its policy allows
 * would sit Pending forever with a scheduler message nobody connects to the policy. Refuse
 * it at admission instead, naming the policy, its term and the pod field that contradicts it.
 */
import { LABEL_NODE, TAINT_NODE } from '../../api/constants.js';
import { invalid, type FieldError } from '../../api/field-errors.js';
import type { NodeSelectorRequirement, NodeSelectorTerm, Pod } from '../../api/core.js';
import type { PolicyTerm } from '../../api/kinds.js';
import { describePolicy, type PolicyObject } from '../../common/distribution-policy.js';
import { resolveAtAdmission } from '../admission-pod.js';
import type { ValidationResult } from './distribution-policy.js';

const REQUIRED_TERMS =
  'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms';

/** Whether a requirement on `key` can hold for a node whose value of `key` is one of `allowed` (undefined: key absent). */
function admitsSome(req: NodeSelectorRequirement, allowed: readonly (string | undefined)[]): boolean {
  return allowed.some((value) => {
    switch (req.operator) {
      case 'In':
        return value !== undefined && (req.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(req.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      case 'Gt':
      case 'Lt': {
        if (value === undefined) return false;
        const l = Number.parseInt(value, 10);
        const r = Number.parseInt((req.values ?? [])[0] ?? '', 10);
        return !Number.isNaN(l) && !Number.isNaN(r) && (req.operator === 'Gt' ? l > r : l < r);
      }
    }
  });
}

/**
 * Required node affinity whose every term (terms are ORed) has a requirement on `key` that no
 * allowed value satisfies. Returns the offending field, or undefined when some term can hold.
 */
function affinityExcludes(
  terms: readonly NodeSelectorTerm[],
  key: string,
  allowed: readonly (string | undefined)[],
): string | undefined {
  if (terms.length === 0) return undefined;
  let field: string | undefined;
  for (const [i, term] of terms.entries()) {
    const j = (term.matchExpressions ?? []).findIndex((e) => e.key === key && !admitsSome(e, allowed));
    if (j < 0) return undefined;
    field ??= terms.length === 1 ? `${REQUIRED_TERMS}[${i}].matchExpressions[${j}]` : REQUIRED_TERMS;
  }
  return field;
}

interface Rule {
  key: string;
  /** Values of `key` on the nodes the term allows; undefined stands for "no such label". */
  allowed: (string | undefined)[];
  why: string;
}

function rulesOf(term: PolicyTerm | undefined): Rule[] {
  const rules: Rule[] = [];
  const nodeType = term?.nodeType ?? 'mix';
  if (nodeType === 'host') {
    rules.push({
      key: LABEL_NODE,
      allowed: [undefined],
      why: `allows only host nodes, which never carry ${LABEL_NODE}`,
    });
  } else if (nodeType === 'leaf') {
    rules.push({
      key: LABEL_NODE,
      allowed: [TAINT_NODE.value],
      why: `allows only virtual nodes, which carry ${LABEL_NODE}=${TAINT_NODE.value}`,
    });
  }
  for (const pin of term?.topologyAffinity ?? []) {
    rules.push({
      key: pin.topologyKey,
      allowed: [...pin.values],
      why: `pins pods to nodes with ${pin.topologyKey} in [${pin.values.join(', ')}]`,
    });
  }
  if (nodeType === 'adv' && term?.advancedTerm) {
    const adv = term.advancedTerm;
    // adv's alternatives are ORed; only an adv term that is a pure nodeSelector is a rule on labels.
    if (!adv.nodeName && (adv.tolerations ?? []).length === 0) {
      for (const [key, value] of Object.entries(adv.nodeSelector ?? {})) {
        rules.push({ key, allowed: [value], why: `selects nodes with ${key}=${value}` });
      }
    }
  }
  return rules;
}

export function validatePod(
  pod: Pod,
  namespace: string | undefined,
  policies: readonly PolicyObject[],
): ValidationResult {
  const errors: FieldError[] = [];
  const resolved = resolveAtAdmission(pod, namespace, policies);
  if (!resolved) return { errors, warnings: [] };
  const term = resolved.term;
  const termText = `term ${JSON.stringify(term?.name ?? '')} (nodeType ${JSON.stringify(resolved.nodeType)})`;
  const because = (why: string) => `contradicts ${describePolicy(resolved)}: its ${termText} ${why}`;

  const terms =
    pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const rule of rulesOf(term)) {
    const selected = pod.spec.nodeSelector?.[rule.key];
    if (selected !== undefined && !rule.allowed.includes(selected)) {
      errors.push(invalid(`spec.nodeSelector[${rule.key}]`, selected, because(rule.why)));
      continue;
    }
    const field = affinityExcludes(terms, rule.key, rule.allowed);
    if (field) errors.push(invalid(field, rule.key, because(rule.why)));
  }

  const adv = resolved.nodeType === 'adv' ? term?.advancedTerm : undefined;
  const onlyNodeName =
    adv?.nodeName && adv.nodeSelector === undefined && (adv.tolerations ?? []).length === 0;
  if (adv?.nodeName && onlyNodeName && pod.spec.nodeName && pod.spec.nodeName !== adv.nodeName) {
    errors.push(
      invalid(
        'spec.nodeName',
        pod.spec.nodeName,
        because(`allows only node ${JSON.stringify(adv.nodeName)}`),
      ),
    );
  }
  return { errors, warnings: [] };
}
