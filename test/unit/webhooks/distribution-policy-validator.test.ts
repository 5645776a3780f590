import { describe, expect, it } from 'vitest';
import { LABEL_CLUSTER, LABEL_NODE, LABEL_ZONE } from '../../../src/api/constants.js';
import { formatFieldError } from '../../../src/api/field-errors.js';
import type { DistributionPolicySpec } from '../../../src/api/kinds.js';
import { validateDistributionPolicySpec } from '../../../src/webhooks/validators/distribution-policy.js';

const ok: DistributionPolicySpec = {
  resourceSelectors: [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 'leaf' }],
  policyTerms: [{ name: 'leaf', nodeType: 'leaf' }],
};

function messages(spec: DistributionPolicySpec): string[] {
  return validateDistributionPolicySpec(spec).errors.map(formatFieldError);
}

describe('DistributionPolicy validation', () => {
  it('GIVEN a selector naming an existing term THEN the policy is admitted', () => {
    expect(messages(ok)).toEqual([]);
  });

  it.each<[string, DistributionPolicySpec, string]>([
    [
      'a policyName that names no term',
      { ...ok, resourceSelectors: [{ name: 'web', policyName: 'nope' }] },
      'spec.resourceSelectors[0].policyName: Not found: "nope": must name one of spec.policyTerms[*].name ("leaf")',
    ],
    [
      'two terms with the same name',
      { ...ok, policyTerms: [{ name: 'leaf' }, { name: 'leaf', nodeType: 'host' }] },
      'spec.policyTerms[1].name: Duplicate value: "leaf": term names must be unique',
    ],
    [
      'a selector with no matcher',
      { ...ok, resourceSelectors: [{ policyName: 'leaf', labelSelector: { matchLabels: {} } }] },
      'spec.resourceSelectors[0]: Required value: a selector needs at least one of name, namePrefix or a non-empty labelSelector; an empty one matches no pod',
    ],
    [
      'an adv term without fields',
      { ...ok, policyTerms: [{ name: 'leaf', nodeType: 'adv' }] },
      'spec.policyTerms[0].advancedTerm: Required value: an "adv" term needs at least one of nodeName, nodeSelector or tolerations, otherwise no node matches it',
    ],
    [
      'an adv term with an empty advancedTerm',
      { ...ok, policyTerms: [{ name: 'leaf', nodeType: 'adv', advancedTerm: { tolerations: [] } }] },
      'spec.policyTerms[0].advancedTerm: Required value: an "adv" term needs at least one of nodeName, nodeSelector or tolerations, otherwise no node matches it',
    ],
    [
      'an invalid matchLabels key',
      {
        ...ok,
        resourceSelectors: [{ policyName: 'leaf', labelSelector: { matchLabels: { 'bad key': 'x' } } }],
      },
      "spec.resourceSelectors[0].labelSelector.matchLabels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    ],
    [
      'an invalid matchLabels value',
      { ...ok, resourceSelectors: [{ policyName: 'leaf', labelSelector: { matchLabels: { app: '-web' } } }] },
      "spec.resourceSelectors[0].labelSelector.matchLabels[app]: Invalid value: \"-web\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    ],
    [
      'an In expression without values',
      {
        ...ok,
        resourceSelectors: [
          { policyName: 'leaf', labelSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] } },
        ],
      },
      "spec.resourceSelectors[0].labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In'",
    ],
    [
      'an advancedTerm nodeSelector with an uppercase prefix',
      {
        ...ok,
        policyTerms: [
          { name: 'leaf', nodeType: 'adv', advancedTerm: { nodeSelector: { 'Example.com/x': 'y' } } },
        ],
      },
      'spec.policyTerms[0].advancedTerm.nodeSelector: Invalid value: "Example.com/x": prefix part must be a lowercase RFC 1123 subdomain (for example "example.com")',
    ],
    [
      'an Exists toleration with a value',
      {
        ...ok,
        policyTerms: [
          {
            name: 'leaf',
            nodeType: 'adv',
            advancedTerm: { tolerations: [{ key: 'a', operator: 'Exists', value: 'b' }] },
          },
        ],
      },
      "spec.policyTerms[0].advancedTerm.tolerations[0].value: Forbidden: value must be empty when `operator` is 'Exists'",
    ],
    [
      'the same spread key twice',
      {
        ...ok,
        policyTerms: [
          {
            name: 'leaf',
            topologySpreadConstraints: [{ topologyKey: LABEL_ZONE }, { topologyKey: LABEL_ZONE }],
          },
        ],
      },
      `spec.policyTerms[0].topologySpreadConstraints[1].topologyKey: Duplicate value: "${LABEL_ZONE}": each {topologyKey, whenUnsatisfiable} pair may appear once`,
    ],
    [
      'a topologyAffinity value that is not a label value',
      {
        ...ok,
        policyTerms: [
          { name: 'leaf', topologyAffinity: [{ topologyKey: LABEL_CLUSTER, values: ['leaf 1'] }] },
        ],
      },
      "spec.policyTerms[0].topologyAffinity[0].values[0]: Invalid value: \"leaf 1\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    ],
    [
      'a host term pinned by kosmos.io/node',
      {
        ...ok,
        policyTerms: [
          {
            name: 'leaf',
            nodeType: 'host',
            topologyAffinity: [{ topologyKey: LABEL_NODE, values: ['true'] }],
          },
        ],
      },
      `spec.policyTerms[0].topologyAffinity[0].topologyKey: Forbidden: a "host" term cannot pin pods by ${LABEL_NODE}: host nodes do not carry it`,
    ],
  ])('GIVEN %s THEN it is refused naming the field', (_case, spec, message) => {
    expect(messages(spec)).toContain(message);
  });

  it('GIVEN an advancedTerm on a non-adv term THEN it is admitted with a warning that it is ignored', () => {
    const r = validateDistributionPolicySpec({
      ...ok,
      policyTerms: [{ name: 'leaf', nodeType: 'leaf', advancedTerm: { nodeName: 'n1' } }],
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      'spec.policyTerms[0].advancedTerm: ignored because nodeType is "leaf", not "adv"',
    ]);
  });

  it('GIVEN an adv term with an empty nodeSelector THEN it is admitted, since {} selects every node', () => {
    expect(
      messages({
        ...ok,
        policyTerms: [{ name: 'leaf', nodeType: 'adv', advancedTerm: { nodeSelector: {} } }],
      }),
    ).toEqual([]);
  });

  it('GIVEN several problems THEN every one is reported', () => {
    const spec: DistributionPolicySpec = {
      resourceSelectors: [{ policyName: 'x' }],
      policyTerms: [{ name: 'a' }, { name: 'a' }],
    };
    expect(messages(spec)).toHaveLength(3);
  });
});
