/**
 * PodConvertPolicy / ClusterPodConvertPolicy: each converter must carry what its convertType
 * needs (add and replace need a value; remove ignores one), and embedded selectors,
 * node names and tolerations must be ones a pod could legally carry after conversion.
 */
import { invalid, required, type FieldError } from '../../api/field-errors.js';
import type { Toleration } from '../../api/core.js';
import type { PodConvertPolicySpec } from '../../api/kinds.js';
import type { LabelSelector } from '../../api/meta.js';
import { checkLabelMap } from '../labels.js';
import { checkLabelSelector, selectorIsEmpty } from '../label-selector.js';
import type { ValidationResult } from './distribution-policy.js';
import { checkToleration } from './toleration.js';

type Converters = NonNullable<PodConvertPolicySpec['converters']>;

/** converter field → the pod field it carries. */
const VALUE_FIELD: Record<keyof Converters, string> = {
  schedulerNameConverter: 'schedulerName',
  nodeNameConverter: 'nodeName',
  nodeSelectorConverter: 'nodeSelector',
  tolerationConverter: 'tolerations',
  affinityConverter: 'affinity',
  topologySpreadConstraintsConverter: 'topologySpreadConstraints',
  hostAliasesConverter: 'hostAliases',
};

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function dnsSubdomain(field: string, value: string): FieldError[] {
  if (value.length <= 253 && DNS1123_SUBDOMAIN.test(value)) return [];
  return [invalid(field, value, 'must be a lowercase RFC 1123 subdomain of at most 253 characters')];
}

export function validatePodConvertPolicySpec(spec: PodConvertPolicySpec): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const labelSelector = spec.labelSelector as LabelSelector;
  errors.push(...checkLabelSelector('spec.labelSelector', labelSelector));
  if (selectorIsEmpty(labelSelector)) {
    warnings.push('spec.labelSelector: empty, so the policy converts every pod that reaches a leaf cluster');
  }
  errors.push(
    ...checkLabelSelector('spec.leafNodeSelector', spec.leafNodeSelector as LabelSelector | undefined),
  );

  const converters: Converters = spec.converters ?? {};
  const present = (Object.keys(VALUE_FIELD) as (keyof Converters)[]).filter(
    (k) => converters[k] !== undefined,
  );
  if (present.length === 0)
    warnings.push('spec.converters: no converter is set, so the policy changes nothing');
  for (const name of present) {
    const conv = converters[name] as Record<string, unknown> & { convertType: string };
    const at = `spec.converters.${name}`;
    const valueField = VALUE_FIELD[name];
    const value = conv[valueField];
    if (conv.convertType === 'remove') {
      if (value !== undefined) warnings.push(`${at}.${valueField}: ignored because convertType is "remove"`);
      continue;
    }
    if (value === undefined) {
      errors.push(
        required(
          `${at}.${valueField}`,
          `must be set when convertType is ${JSON.stringify(conv.convertType)}`,
        ),
      );
      continue;
    }
    switch (name) {
      case 'schedulerNameConverter':
        errors.push(...dnsSubdomain(`${at}.schedulerName`, value as string));
        break;
      case 'nodeNameConverter':
        errors.push(...dnsSubdomain(`${at}.nodeName`, value as string));
        break;
      case 'nodeSelectorConverter':
        errors.push(...checkLabelMap(`${at}.nodeSelector`, value as Record<string, string>));
        break;
      case 'tolerationConverter':
        (value as Toleration[]).forEach((t, i) =>
          errors.push(...checkToleration(`${at}.tolerations[${i}]`, t)),
        );
        break;
      default:
        break;
    }
  }
  return { errors, warnings };
}
