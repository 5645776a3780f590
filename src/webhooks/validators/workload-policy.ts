/** WorkloadPolicy rules beyond the schema: each allocation domain once, and sensible label syntax. */
import { duplicate, type FieldError } from '../../api/field-errors.js';
import type { WorkloadPolicySpec } from '../../api/kinds.js';
import type { LabelSelector } from '../../api/meta.js';
import { checkLabelKey, checkLabelValue } from '../labels.js';
import { checkLabelSelector } from '../label-selector.js';
import type { ValidationResult } from './distribution-policy.js';

export function validateWorkloadPolicySpec(spec: WorkloadPolicySpec): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  errors.push(...checkLabelKey('spec.topologyKey', spec.topologyKey));
  errors.push(...checkLabelSelector('spec.labelSelector', spec.labelSelector as LabelSelector));
  const names = new Set<string>();
  spec.allocationPolicy.forEach((a, i) => {
    const at = `spec.allocationPolicy[${i}]`;
    if (names.has(a.name))
      errors.push(duplicate(`${at}.name`, a.name, 'each topology value may appear once'));
    names.add(a.name);
    // The name is a value of topologyKey on nodes, so it must be a label value to ever match.
    errors.push(...checkLabelValue(`${at}.name`, a.name));
    // The schema already refuses negative replicas and weights below 1; these say it again
    // for objects that reach us without schema defaults (e.g. a dry run of an older CRD).
    if (a.replicas !== undefined && a.replicas < 0) {
      errors.push({
        field: `${at}.replicas`,
        type: 'Invalid',
        value: a.replicas,
        detail: 'must be greater than or equal to 0',
      });
    }
    if (a.weight !== undefined && a.weight <= 0) {
      errors.push({
        field: `${at}.weight`,
        type: 'Invalid',
        value: a.weight,
        detail: 'must be greater than 0',
      });
    }
  });
  const withWeight = spec.allocationPolicy.some((a) => a.weight !== undefined);
  const withReplicas = spec.allocationPolicy.some((a) => a.replicas !== undefined);
  if (withWeight && withReplicas) {
    // The schema describes them as alternatives; which one wins is the extender's business, so warn only.
    warnings.push(
      'spec.allocationPolicy: mixes replicas (absolute counts) and weight (ratios); use one of them in every entry',
    );
  }
  return { errors, warnings };
}
