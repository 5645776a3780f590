import { conditions } from './common.js';

const entry = <P extends Record<string, unknown>>(properties: P, required: readonly (keyof P & string)[]) =>
  ({ type: 'array', items: { type: 'object', required, properties, additionalProperties: false } }) as const;

export const nodeConfigSpecSchema = {
  type: 'object',
  properties: {
    devices: entry(
      {
        type: { type: 'string', enum: ['vxlan'] },
        name: { type: 'string' },
        addr: { type: 'string' },
        mac: { type: 'string' },
        bindDev: { type: 'string' },
        id: { type: 'integer', format: 'int32' },
        port: { type: 'integer', format: 'int32' },
      } as const,
      ['type', 'name', 'addr', 'mac', 'bindDev', 'id', 'port'] as const,
    ),
    routes: entry(
      { cidr: { type: 'string' }, gw: { type: 'string' }, dev: { type: 'string' } } as const,
      ['cidr', 'gw', 'dev'] as const,
    ),
    iptables: entry(
      { table: { type: 'string' }, chain: { type: 'string' }, rule: { type: 'string' } } as const,
      ['table', 'chain', 'rule'] as const,
    ),
    fdbs: entry(
      { ip: { type: 'string' }, mac: { type: 'string' }, dev: { type: 'string' } } as const,
      ['ip', 'mac', 'dev'] as const,
    ),
    arps: entry(
      { ip: { type: 'string' }, mac: { type: 'string' }, dev: { type: 'string' } } as const,
      ['ip', 'mac', 'dev'] as const,
    ),
  },
  additionalProperties: false,
} as const;

export const nodeConfigStatusSchema = {
  type: 'object',
  properties: {
    lastChangeTime: { type: 'string', format: 'date-time' },
    lastSyncTime: { type: 'string', format: 'date-time' },
    appliedGeneration: { type: 'integer', format: 'int64', description: 'metadata.generation last applied.' },
    error: { type: 'string', description: 'Why the last apply failed; empty when it succeeded.' },
    conditions,
  },
  additionalProperties: false,
} as const;
