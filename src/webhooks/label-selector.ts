/** Syntax of a metav1.LabelSelector inside a Kosmos spec, checked as the apiserver checks its own selectors. */
import { forbidden, joinField, required, type FieldError } from '../api/field-errors.js';
import type { LabelSelector } from '../api/meta.js';
import { checkLabelKey, checkLabelMap, checkLabelValue } from './labels.js';

export function checkLabelSelector(field: string, sel: LabelSelector | undefined): FieldError[] {
  if (!sel) return [];
  const out = checkLabelMap(joinField(field, 'matchLabels'), sel.matchLabels);
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const at = `${joinField(field, 'matchExpressions')}[${i}]`;
    out.push(...checkLabelKey(`${at}.key`, e.key));
    const values = e.values ?? [];
    if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0) {
      out.push(required(`${at}.values`, `must be specified when \`operator\` is '${e.operator}'`));
    }
    if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && values.length > 0) {
      out.push(forbidden(`${at}.values`, `may not be specified when \`operator\` is '${e.operator}'`));
    }
    values.forEach((v, j) => out.push(...checkLabelValue(`${at}.values[${j}]`, v)));
  });
  return out;
}

/** Whether a selector names anything at all: an empty one would match nothing (policies) or everything (Kubernetes). */
export function selectorIsEmpty(sel: LabelSelector | undefined): boolean {
  return (
    !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
  );
}
