/** Builds the apiextensions.k8s.io/v1 CRDs from the kind schemas (see schema/common.ts). */
import { CATEGORY, GROUP, VERSION } from './constants.js';
import { KINDS, type KindInfo } from './kinds.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Structural schemas prune unknown fields and forbid `additionalProperties: false`. */
export function toStructural(schema: unknown): Json {
  if (Array.isArray(schema)) return schema.map(toStructural);
  if (schema === null || typeof schema !== 'object') return schema as Json;
  const out: { [k: string]: Json } = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'additionalProperties' && value === false) continue;
    out[key] = toStructural(value);
  }
  return out;
}

export function objectSchema(info: KindInfo): Json {
  const properties: { [k: string]: Json } = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: toStructural(info.specSchema),
  };
  if (info.statusSchema) properties['status'] = toStructural(info.statusSchema);
  const schema: { [k: string]: Json } = { type: 'object', properties };
  if (info.specRequired) schema['required'] = ['spec'];
  return schema;
}

export function crdFor(info: KindInfo): Json {
  const version: { [k: string]: Json } = {
    name: VERSION,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: objectSchema(info) },
    additionalPrinterColumns: info.printerColumns.map((c) => ({ ...c })),
  };
  if (info.statusSchema) version['subresources'] = { status: {} };
  const names: { [k: string]: Json } = {
    kind: info.kind,
    listKind: `${info.kind}List`,
    plural: info.plural,
    singular: info.singular,
    categories: [CATEGORY],
  };
  if (info.shortNames.length > 0) names['shortNames'] = info.shortNames;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${GROUP}` },
    spec: { group: GROUP, names, scope: info.scope, versions: [version] },
  };
}

export function allCrds(): Json[] {
  return KINDS.map(crdFor);
}
