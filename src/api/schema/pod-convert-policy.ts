import { labelSelector, opaqueObject, stringMap, toleration } from './common.js';

const convertType = { type: 'string', enum: ['add', 'remove', 'replace'] } as const;

const converter = <K extends string, V>(field: K, value: V) =>
  ({
    type: 'object',
    required: ['convertType'],
    properties: { convertType, [field]: value } as { convertType: typeof convertType } & Record<K, V>,
    additionalProperties: false,
  }) as const;

export const podConvertPolicySpecSchema = {
  type: 'object',
  required: ['labelSelector'],
  properties: {
    labelSelector: { ...labelSelector, description: 'Pods the policy converts.' },
    leafNodeSelector: { ...labelSelector, description: 'Virtual nodes it applies to; unset means all.' },
    converters: {
      type: 'object',
      properties: {
        schedulerNameConverter: converter('schedulerName', { type: 'string' } as const),
        nodeNameConverter: converter('nodeName', { type: 'string' } as const),
        nodeSelectorConverter: converter('nodeSelector', stringMap),
        tolerationConverter: converter('tolerations', { type: 'array', items: toleration } as const),
        affinityConverter: converter('affinity', opaqueObject),
        topologySpreadConstraintsConverter: converter('topologySpreadConstraints', {
          type: 'array',
          items: opaqueObject,
        } as const),
        hostAliasesConverter: converter('hostAliases', { type: 'array', items: opaqueObject } as const),
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;
