/**
 * Reusable JSON Schema fragments. These are the single source of truth for the Kosmos
 * kinds: TypeScript types are derived from them (json-schema-to-ts), ajv validates with
 * them, and the CRDs' openAPIV3Schema is generated from them (src/api/crds.ts).
 * `additionalProperties: false` drives the derived types and ajv's pruning (like the
 * apiserver's); the CRD generator removes it, since structural schemas prune instead.
 */

export const stringMap = {
  type: 'object',
  additionalProperties: { type: 'string' },
} as const;

export const labelSelector = {
  type: 'object',
  description: 'A label query over a set of resources (metav1.LabelSelector).',
  properties: {
    matchLabels: stringMap,
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string' },
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
  'x-kubernetes-map-type': 'atomic',
} as const;

export const toleration = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    operator: { type: 'string', enum: ['Exists', 'Equal'] },
    value: { type: 'string' },
    effect: { type: 'string', enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
    tolerationSeconds: { type: 'integer', format: 'int64' },
  },
  additionalProperties: false,
} as const;

export const taint = {
  type: 'object',
  required: ['key', 'effect'],
  properties: {
    key: { type: 'string' },
    value: { type: 'string' },
    effect: { type: 'string', enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
    timeAdded: { type: 'string', format: 'date-time' },
  },
  additionalProperties: false,
} as const;

/** An embedded core/v1 structure Kosmos passes through untouched (affinity, host aliases…). */
export const opaqueObject = {
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
} as const;

export const stringList = { type: 'array', items: { type: 'string' } } as const;

export const conditions = {
  type: 'array',
  items: {
    type: 'object',
    required: ['type', 'status'],
    properties: {
      type: { type: 'string' },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      reason: { type: 'string' },
      message: { type: 'string' },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      observedGeneration: { type: 'integer', format: 'int64' },
    },
    additionalProperties: false,
  },
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
} as const;
