import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../../src/api/field-errors.js';
import type { PodConvertPolicySpec, WorkloadPolicySpec } from '../../../src/api/kinds.js';
import { LABEL_CLUSTER } from '../../../src/api/constants.js';
import { validatePodConvertPolicySpec } from '../../../src/webhooks/validators/pod-convert-policy.js';
import { validateWorkloadPolicySpec } from '../../../src/webhooks/validators/workload-policy.js';

const wlp: WorkloadPolicySpec = {
  topologyKey: LABEL_CLUSTER,
  labelSelector: { matchLabels: { app: 'web' } },
  allocationPolicy: [
    { name: 'leaf-1', replicas: 2 },
    { name: 'leaf-2', replicas: 0 },
  ],
};

describe('WorkloadPolicy validation', () => {
  it('GIVEN distinct domains with non-negative replicas THEN it is admitted', () => {
    expect(validateWorkloadPolicySpec(wlp).errors).toEqual([]);
  });

  it.each<[string, WorkloadPolicySpec, string]>([
    [
      'a domain listed twice',
      {
        ...wlp,
        allocationPolicy: [
          { name: 'a', replicas: 1 },
          { name: 'a', replicas: 2 },
        ],
      },
      'spec.allocationPolicy[1].name: Duplicate value: "a": each topology value may appear once',
    ],
    [
      'negative replicas',
      { ...wlp, allocationPolicy: [{ name: 'a', replicas: -1 }] },
      'spec.allocationPolicy[0].replicas: Invalid value: -1: must be greater than or equal to 0',
    ],
    [
      'a zero weight',
      { ...wlp, allocationPolicy: [{ name: 'a', weight: 0 }] },
      'spec.allocationPolicy[0].weight: Invalid value: 0: must be greater than 0',
    ],
    [
      'a topologyKey that is not a label key',
      { ...wlp, topologyKey: 'a/b/c' },
      'spec.topologyKey: Invalid value: "a/b/c": a qualified name must have at most one "/"',
    ],
  ])('GIVEN %s THEN it is refused naming the field', (_c, spec, message) => {
    expect(validateWorkloadPolicySpec(spec).errors.map(formatFieldError)).toContain(message);
  });

  it('GIVEN replicas in one entry and weight in another THEN it is admitted with a warning', () => {
    const r = validateWorkloadPolicySpec({
      ...wlp,
      allocationPolicy: [
        { name: 'a', replicas: 1 },
        { name: 'b', weight: 2 },
      ],
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(1);
  });
});

const pcp: PodConvertPolicySpec = {
  labelSelector: { matchLabels: { app: 'web' } },
  converters: {
    schedulerNameConverter: { convertType: 'replace', schedulerName: 'leaf-scheduler' },
    nodeSelectorConverter: { convertType: 'add', nodeSelector: { disk: 'ssd' } },
    tolerationConverter: { convertType: 'remove' },
  },
};

describe('PodConvertPolicy validation', () => {
  it('GIVEN converters that carry what their convertType needs THEN it is admitted', () => {
    const r = validatePodConvertPolicySpec(pcp);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it.each<[string, PodConvertPolicySpec, string]>([
    [
      'a replace converter without its value',
      { ...pcp, converters: { nodeNameConverter: { convertType: 'replace' } } },
      'spec.converters.nodeNameConverter.nodeName: Required value: must be set when convertType is "replace"',
    ],
    [
      'an add converter whose node selector is not a label map',
      {
        ...pcp,
        converters: { nodeSelectorConverter: { convertType: 'add', nodeSelector: { disk: 'fast ssd' } } },
      },
      "spec.converters.nodeSelectorConverter.nodeSelector[disk]: Invalid value: \"fast ssd\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    ],
    [
      'a scheduler name that is not a DNS subdomain',
      {
        ...pcp,
        converters: { schedulerNameConverter: { convertType: 'add', schedulerName: 'My_Scheduler' } },
      },
      'spec.converters.schedulerNameConverter.schedulerName: Invalid value: "My_Scheduler": must be a lowercase RFC 1123 subdomain of at most 253 characters',
    ],
    [
      'a toleration with an empty key and operator Equal',
      {
        ...pcp,
        converters: {
          tolerationConverter: { convertType: 'add', tolerations: [{ operator: 'Equal', value: 'x' }] },
        },
      },
      'spec.converters.tolerationConverter.tolerations[0].operator: Forbidden: operator must be Exists when `key` is empty, which means "match all values and all keys"',
    ],
    [
      'a labelSelector expression with values on Exists',
      { ...pcp, labelSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] } },
      "spec.labelSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists'",
    ],
  ])('GIVEN %s THEN it is refused naming the field', (_c, spec, message) => {
    expect(validatePodConvertPolicySpec(spec).errors.map(formatFieldError)).toContain(message);
  });

  it('GIVEN a remove converter that also carries a value THEN it is admitted with a warning that the value is ignored', () => {
    const r = validatePodConvertPolicySpec({
      ...pcp,
      converters: { nodeNameConverter: { convertType: 'remove', nodeName: 'n1' } },
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      'spec.converters.nodeNameConverter.nodeName: ignored because convertType is "remove"',
    ]);
  });

  it('GIVEN no converter at all THEN it is admitted with a warning that it changes nothing', () => {
    expect(validatePodConvertPolicySpec({ labelSelector: { matchLabels: { a: 'b' } } }).warnings).toEqual([
      'spec.converters: no converter is set, so the policy changes nothing',
    ]);
  });
});
