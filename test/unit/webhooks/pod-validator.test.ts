import { describe, expect, it } from 'vitest';
import { LABEL_CLUSTER, LABEL_NODE } from '../../../src/api/constants.js';
import { formatFieldError } from '../../../src/api/field-errors.js';
import type { Affinity, Pod } from '../../../src/api/core.js';
import type { PolicyTerm } from '../../../src/api/kinds.js';
import { validatePod } from '../../../src/webhooks/validators/pod.js';
import { dp, pod } from './fixtures.js';

const policies = (term: Omit<PolicyTerm, 'name'>) => [
  dp(
    'web',
    [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 't' }],
    [{ name: 't', ...term }],
    'shop',
  ),
];
const webPod = (spec: Partial<Pod['spec']>) => pod('web-1', spec, { app: 'web' }, 'shop');
const required = (
  ...terms: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[][]
): Affinity => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: terms.map((t) => ({ matchExpressions: t })),
    },
  },
});

function errors(p: Pod, term: Omit<PolicyTerm, 'name'>): string[] {
  return validatePod(p, 'shop', policies(term)).errors.map(formatFieldError);
}

describe('pod validation against its policy', () => {
  it('GIVEN a host-only policy and a nodeSelector for virtual nodes THEN the pod is refused naming the policy and the field', () => {
    expect(errors(webPod({ nodeSelector: { [LABEL_NODE]: 'true' } }), { nodeType: 'host' })).toEqual([
      `spec.nodeSelector[${LABEL_NODE}]: Invalid value: "true": contradicts DistributionPolicy shop/web: its term "t" (nodeType "host") allows only host nodes, which never carry ${LABEL_NODE}`,
    ]);
  });

  it('GIVEN a leaf-only policy and required affinity that excludes virtual nodes THEN the pod is refused naming the affinity expression', () => {
    expect(
      errors(webPod({ affinity: required([{ key: LABEL_NODE, operator: 'DoesNotExist' }]) }), {
        nodeType: 'leaf',
      }),
    ).toEqual([
      `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: Invalid value: "${LABEL_NODE}": contradicts DistributionPolicy shop/web: its term "t" (nodeType "leaf") allows only virtual nodes, which carry ${LABEL_NODE}=true`,
    ]);
  });

  it('GIVEN a host-only policy and affinity where one alternative term still allows host nodes THEN the pod is admitted', () => {
    const affinity = required(
      [{ key: LABEL_NODE, operator: 'Exists' }],
      [{ key: 'disk', operator: 'In', values: ['ssd'] }],
    );
    expect(errors(webPod({ affinity }), { nodeType: 'host' })).toEqual([]);
  });

  it('GIVEN a host-only policy and every affinity term requiring virtual nodes THEN the pod is refused naming the terms list', () => {
    const affinity = required(
      [{ key: LABEL_NODE, operator: 'Exists' }],
      [{ key: LABEL_NODE, operator: 'In', values: ['true'] }],
    );
    expect(errors(webPod({ affinity }), { nodeType: 'host' })[0]).toMatch(
      /^spec\.affinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms: Invalid value/,
    );
  });

  it('GIVEN a term pinned to clusters and a nodeSelector for another cluster THEN the pod is refused', () => {
    expect(
      errors(webPod({ nodeSelector: { [LABEL_CLUSTER]: 'leaf-9' } }), {
        topologyAffinity: [{ topologyKey: LABEL_CLUSTER, values: ['leaf-1'] }],
      }),
    ).toEqual([
      `spec.nodeSelector[${LABEL_CLUSTER}]: Invalid value: "leaf-9": contradicts DistributionPolicy shop/web: its term "t" (nodeType "mix") pins pods to nodes with ${LABEL_CLUSTER} in [leaf-1]`,
    ]);
  });

  it('GIVEN an adv term selecting by label and a nodeSelector with another value THEN the pod is refused', () => {
    expect(
      errors(webPod({ nodeSelector: { disk: 'hdd' } }), {
        nodeType: 'adv',
        advancedTerm: { nodeSelector: { disk: 'ssd' } },
      }),
    ).toHaveLength(1);
  });

  it('GIVEN an adv term for one node and a pod bound to another THEN the pod is refused naming spec.nodeName', () => {
    expect(
      errors(webPod({ nodeName: 'n2' }), { nodeType: 'adv', advancedTerm: { nodeName: 'n1' } })[0],
    ).toMatch(/^spec\.nodeName: Invalid value: "n2"/);
  });

  it.each<[string, Partial<Pod['spec']>, Omit<PolicyTerm, 'name'>]>([
    [
      'a mix policy and a virtual-node selector',
      { nodeSelector: { [LABEL_NODE]: 'true' } },
      { nodeType: 'mix' },
    ],
    [
      'a leaf policy and a virtual-node selector',
      { nodeSelector: { [LABEL_NODE]: 'true' } },
      { nodeType: 'leaf' },
    ],
    ['a host policy and unrelated selectors', { nodeSelector: { disk: 'ssd' } }, { nodeType: 'host' }],
    [
      'a pinned term and a selector inside it',
      { nodeSelector: { [LABEL_CLUSTER]: 'leaf-1' } },
      { topologyAffinity: [{ topologyKey: LABEL_CLUSTER, values: ['leaf-1', 'leaf-2'] }] },
    ],
  ])('GIVEN %s THEN the pod is admitted', (_c, spec, term) => {
    expect(errors(webPod(spec), term)).toEqual([]);
  });

  it('GIVEN a pod no policy matches THEN it is admitted whatever it selects', () => {
    expect(
      validatePod(
        pod('db', { nodeSelector: { [LABEL_NODE]: 'true' } }, { app: 'db' }, 'shop'),
        'shop',
        policies({ nodeType: 'host' }),
      ).errors,
    ).toEqual([]);
  });
});
