import { stringList } from './common.js';

export const clusterNodeSpecSchema = {
  type: 'object',
  properties: {
    clusterName: { type: 'string' },
    nodeName: { type: 'string' },
    podCIDRs: stringList,
    ip: { type: 'string' },
    ip6: { type: 'string' },
    roles: stringList,
    interfaceName: { type: 'string' },
  },
  additionalProperties: false,
} as const;

export const clusterNodeStatusSchema = {
  type: 'object',
  properties: { nodeStatus: { type: 'string' } },
  additionalProperties: false,
} as const;
