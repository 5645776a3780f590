/**
 * Semantic rules of DistributionPolicy and ClusterDistributionPolicy that the CRD schema
 * cannot say and Kosmos never checked: a selector naming a missing term silently turns the
 * policy into "mix", duplicate term names make the first one win, an empty selector never
 * matches, and an `adv` term without fields matches no node at all.
 */
import { LABEL_NODE } from '../../api/constants.js';
import type { Toleration } from '../../api/core.js';
import { duplicate, forbidden, notFound, required, type FieldError } from '../../api/field-errors.js';
import type { DistributionPolicySpec } from '../../api/kinds.js';
import type { LabelSelector } from '../../api/meta.js';
import { checkLabelKey, checkLabelMap, checkLabelValue } from '../labels.js';
import { checkLabelSelector, selectorIsEmpty } from '../label-selector.js';
import { checkToleration } from './toleration.js';

export interface ValidationResult {
  errors: FieldError[];
  /** Not refused, but probably not what the user meant; returned as admission warnings. */
  warnings: string[];
}

export function validateDistributionPolicySpec(spec: DistributionPolicySpec): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const termNames = new Set<string>();

  spec.policyTerms.forEach((term, i) => {
    const at = `spec.policyTerms[${i}]`;
    if (term.name === '') errors.push(required(`${at}.name`));
    else if (termNames.has(term.name))
      errors.push(duplicate(`${at}.name`, term.name, 'term names must be unique'));
    termNames.add(term.name);

    const adv = term.advancedTerm;
    if (term.nodeType === 'adv') {
      const hasField =
        adv !== undefined &&
        ((adv.nodeName ?? '') !== '' || adv.nodeSelector !== undefined || (adv.tolerations ?? []).length > 0);
      if (!hasField) {
        errors.push(
          required(
            `${at}.advancedTerm`,
            'an "adv" term needs at least one of nodeName, nodeSelector or tolerations, otherwise no node matches it',
          ),
        );
      }
    } else if (adv !== undefined) {
      warnings.push(
        `${at}.advancedTerm: ignored because nodeType is ${JSON.stringify(term.nodeType ?? 'mix')}, not "adv"`,
      );
    }
    if (adv?.nodeSelector) errors.push(...checkLabelMap(`${at}.advancedTerm.nodeSelector`, adv.nodeSelector));
    (adv?.tolerations ?? []).forEach((t, j) => {
      errors.push(...checkToleration(`${at}.advancedTerm.tolerations[${j}]`, t as Toleration));
    });

    const spreads = new Set<string>();
    (term.topologySpreadConstraints ?? []).forEach((c, j) => {
      const cAt = `${at}.topologySpreadConstraints[${j}]`;
      errors.push(...checkLabelKey(`${cAt}.topologyKey`, c.topologyKey));
      const pair = `${c.topologyKey}/${c.whenUnsatisfiable ?? 'DoNotSchedule'}`;
      if (spreads.has(pair)) {
        errors.push(
          duplicate(
            `${cAt}.topologyKey`,
            c.topologyKey,
            'each {topologyKey, whenUnsatisfiable} pair may appear once',
          ),
        );
      }
      spreads.add(pair);
    });

    const pinned = new Set<string>();
    (term.topologyAffinity ?? []).forEach((a, j) => {
      const aAt = `${at}.topologyAffinity[${j}]`;
      errors.push(...checkLabelKey(`${aAt}.topologyKey`, a.topologyKey));
      if (pinned.has(a.topologyKey)) {
        errors.push(duplicate(`${aAt}.topologyKey`, a.topologyKey, 'list all values of a key in one entry'));
      }
      pinned.add(a.topologyKey);
      a.values.forEach((v, k) => errors.push(...checkLabelValue(`${aAt}.values[${k}]`, v)));
      if (a.topologyKey === LABEL_NODE && term.nodeType === 'host') {
        errors.push(
          forbidden(
            `${aAt}.topologyKey`,
            `a "host" term cannot pin pods by ${LABEL_NODE}: host nodes do not carry it`,
          ),
        );
      }
    });
  });

  spec.resourceSelectors.forEach((sel, i) => {
    const at = `spec.resourceSelectors[${i}]`;
    if (sel.policyName === '') errors.push(required(`${at}.policyName`));
    else if (!termNames.has(sel.policyName)) {
      errors.push(
        notFound(
          `${at}.policyName`,
          sel.policyName,
          `must name one of spec.policyTerms[*].name (${[...termNames].map((n) => JSON.stringify(n)).join(', ')})`,
        ),
      );
    }
    const labelSelector = sel.labelSelector as LabelSelector | undefined;
    if ((sel.name ?? '') === '' && (sel.namePrefix ?? '') === '' && selectorIsEmpty(labelSelector)) {
      errors.push(
        required(
          at,
          'a selector needs at least one of name, namePrefix or a non-empty labelSelector; an empty one matches no pod',
        ),
      );
    }
    errors.push(...checkLabelSelector(`${at}.labelSelector`, labelSelector));
  });

  return { errors, warnings };
}
