import { NODE_TYPES } from '../constants.js';
import { labelSelector, stringMap, toleration } from './common.js';

/** Shared by DistributionPolicy (namespaced) and ClusterDistributionPolicy (cluster-scoped). */
export const distributionPolicySpecSchema = {
  type: 'object',
  required: ['resourceSelectors', 'policyTerms'],
  properties: {
    resourceSelectors: {
      type: 'array',
      minItems: 1,
      description: 'Which pods the policy applies to. Name beats namePrefix beats labelSelector.',
      items: {
        type: 'object',
        required: ['policyName'],
        properties: {
          name: { type: 'string', description: 'Exact pod name.' },
          namePrefix: { type: 'string', description: 'Pod name prefix.' },
          labelSelector: {
            ...labelSelector,
            description:
              'Pods whose labels match. matchLabels pairs are ORed (any pair present matches), as in Kosmos; matchExpressions are ANDed with them.',
          },
          policyName: { type: 'string', description: 'Name of a policyTerms entry of this object.' },
        },
        additionalProperties: false,
      },
    },
    policyTerms: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          nodeType: {
            type: 'string',
            enum: NODE_TYPES,
            default: 'mix',
            description:
              'host: host nodes only; leaf: virtual nodes only; mix: both; adv: advancedTerm decides.',
          },
          advancedTerm: {
            type: 'object',
            properties: {
              nodeName: { type: 'string' },
              nodeSelector: { ...stringMap, 'x-kubernetes-map-type': 'atomic' },
              tolerations: { type: 'array', items: toleration },
            },
            additionalProperties: false,
          },
          topologySpreadConstraints: {
            type: 'array',
            description:
              'Kosmos extension: spread the matched pods across a topology key (kosmos.io/cluster, topology.kubernetes.io/region|zone, kubernetes.io/hostname). Written into the pod by the mutating webhook.',
            items: {
              type: 'object',
              required: ['topologyKey'],
              properties: {
                topologyKey: { type: 'string' },
                maxSkew: { type: 'integer', format: 'int32', minimum: 1, default: 1 },
                whenUnsatisfiable: {
                  type: 'string',
                  enum: ['DoNotSchedule', 'ScheduleAnyway'],
                  default: 'DoNotSchedule',
                },
              },
              additionalProperties: false,
            },
          },
          topologyAffinity: {
            type: 'array',
            description:
              'Kosmos extension: pin the matched pods to nodes whose topology key has one of the values (for example kosmos.io/cluster in [leaf-1]). Written into the pod as required node affinity.',
            items: {
              type: 'object',
              required: ['topologyKey', 'values'],
              properties: {
                topologyKey: { type: 'string' },
                values: { type: 'array', minItems: 1, items: { type: 'string' } },
              },
              additionalProperties: false,
            },
          },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const;
