import { labelSelector } from './common.js';

export const workloadPolicySpecSchema = {
  type: 'object',
  required: ['topologyKey', 'labelSelector', 'allocationPolicy'],
  properties: {
    topologyKey: {
      type: 'string',
      minLength: 1,
      description: 'Node label whose values are the allocation domains, typically kosmos.io/cluster.',
    },
    labelSelector: { ...labelSelector, description: 'Pods counted against the policy (matchLabels ANDed).' },
    allocationPolicy: {
      type: 'array',
      minItems: 1,
      description:
        'Per-domain replica counts, or weights (Kosmos extension) that split the matched replicas by ratio.',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', description: 'A value of topologyKey.' },
          replicas: { type: 'integer', format: 'int32', minimum: 0 },
          weight: { type: 'integer', format: 'int32', minimum: 1 },
        },
        additionalProperties: false,
      },
    },
    allocationType: { type: 'string', enum: ['Preferred', 'Required'], default: 'Preferred' },
    allocationMethod: { type: 'string', enum: ['Fill', 'Balance'], default: 'Balance' },
  },
  additionalProperties: false,
} as const;
