/** core/v1 Toleration rules the apiserver applies to pods but never to tolerations inside a Kosmos spec. */
import { forbidden, type FieldError } from '../../api/field-errors.js';
import type { Toleration } from '../../api/core.js';
import { checkLabelKey } from '../labels.js';

export function checkToleration(field: string, t: Toleration): FieldError[] {
  const out: FieldError[] = [];
  if (t.key) out.push(...checkLabelKey(`${field}.key`, t.key));
  if (t.operator === 'Exists' && (t.value ?? '') !== '') {
    out.push(forbidden(`${field}.value`, "value must be empty when `operator` is 'Exists'"));
  }
  if (!t.key && t.operator !== 'Exists') {
    out.push(
      forbidden(
        `${field}.operator`,
        'operator must be Exists when `key` is empty, which means "match all values and all keys"',
      ),
    );
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    out.push(forbidden(`${field}.tolerationSeconds`, "only applies to effect 'NoExecute'"));
  }
  return out;
}
