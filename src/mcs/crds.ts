/**
 * The ServiceExport and ServiceImport CRDs of sigs.k8s.io/mcs-api v0.5.0, written once here
 * and rendered to deploy/mcs by `node dist/mcs/main.js mcs-gen-crds`. Both serve v1beta1 (stored,
 * what the conformance suite reads) and v1alpha1 (what CoreDNS's multicluster code still
 * watches); the schemas are identical, so no conversion webhook is needed.
 */
import { stringify } from 'yaml';
import { MCS_GROUP, MCS_RELEASE_VERSION, MCS_VERSION, MCS_VERSION_ALPHA } from './constants.js';

type Schema = Record<string, unknown>;

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int32 = (extra: Schema = {}): Schema => ({ type: 'integer', format: 'int32', ...extra });

/** metav1.Condition, as controller-gen renders it. */
const conditionSchema: Schema = {
  type: 'object',
  required: ['lastTransitionTime', 'message', 'reason', 'status', 'type'],
  properties: {
    lastTransitionTime: str({ format: 'date-time' }),
    message: str({ maxLength: 32768 }),
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    reason: str({ maxLength: 1024, minLength: 1, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
    status: str({ enum: ['True', 'False', 'Unknown'] }),
    type: str({
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
  },
};

const conditionsSchema: Schema = {
  type: 'array',
  items: conditionSchema,
  'x-kubernetes-list-map-keys': ['type'],
  'x-kubernetes-list-type': 'map',
};

const sessionAffinityConfigSchema: Schema = {
  type: 'object',
  properties: {
    clientIP: {
      type: 'object',
      properties: { timeoutSeconds: int32({ minimum: 1, maximum: 86400 }) },
    },
  },
};

const serviceExportSchema: Schema = {
  type: 'object',
  description:
    'ServiceExport declares that the Service with the same name and namespace as this export should be consumable from other clusters.',
  properties: {
    apiVersion: str(),
    kind: str(),
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        exportedAnnotations: { type: 'object', additionalProperties: str() },
        exportedLabels: { type: 'object', additionalProperties: str() },
      },
    },
    status: {
      type: 'object',
      properties: { conditions: conditionsSchema },
    },
  },
};

const serviceImportSchema: Schema = {
  type: 'object',
  description: 'ServiceImport describes a service imported from clusters in a ClusterSet.',
  properties: {
    apiVersion: str(),
    kind: str(),
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['ports', 'type'],
      properties: {
        ips: { type: 'array', maxItems: 2, items: str() },
        ipFamilies: { type: 'array', maxItems: 2, items: str({ enum: ['IPv4', 'IPv6'] }) },
        internalTrafficPolicy: str(),
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'atomic',
          items: {
            type: 'object',
            required: ['port'],
            properties: {
              appProtocol: str(),
              name: str(),
              port: int32(),
              protocol: str({ default: 'TCP', enum: ['TCP', 'UDP', 'SCTP'] }),
            },
          },
        },
        sessionAffinity: str({ enum: ['ClientIP', 'None'] }),
        sessionAffinityConfig: sessionAffinityConfigSchema,
        trafficDistribution: str(),
        type: str({ enum: ['ClusterSetIP', 'Headless'] }),
      },
    },
    status: {
      type: 'object',
      properties: {
        endpointSliceObjects: str({ enum: ['Present', 'Absent'] }),
        clusters: {
          type: 'array',
          'x-kubernetes-list-map-keys': ['cluster'],
          'x-kubernetes-list-type': 'map',
          items: {
            type: 'object',
            required: ['cluster'],
            properties: { cluster: str({ maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }) },
          },
        },
        conditions: conditionsSchema,
      },
    },
  },
};

export interface CrdDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced';
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; description?: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

function crd(
  kind: string,
  plural: string,
  shortNames: string[],
  schema: Schema,
  columns: { name: string; type: string; jsonPath: string }[],
): CrdDefinition {
  const version = (name: string, storage: boolean) => ({
    name,
    served: true,
    storage,
    subresources: { status: {} as Record<string, never> },
    additionalPrinterColumns: columns,
    schema: { openAPIV3Schema: schema },
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${MCS_GROUP}`, labels: { 'release-version': MCS_RELEASE_VERSION } },
    spec: {
      group: MCS_GROUP,
      scope: 'Namespaced',
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames,
        categories: [],
      },
      versions: [version(MCS_VERSION, true), version(MCS_VERSION_ALPHA, false)],
    },
  };
}

export const serviceExportCrd = crd(
  'ServiceExport',
  'serviceexports',
  ['svcex', 'svcexport'],
  serviceExportSchema,
  [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
);

export const serviceImportCrd = crd(
  'ServiceImport',
  'serviceimports',
  ['svcim', 'svcimport'],
  serviceImportSchema,
  [
    { name: 'Type', type: 'string', jsonPath: '.spec.type' },
    { name: 'IP', type: 'string', jsonPath: '.spec.ips' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
);

export const MCS_CRDS: readonly CrdDefinition[] = [serviceExportCrd, serviceImportCrd];

export const MCS_CRD_HEADER =
  '# Generated from src/mcs/crds.ts by `node dist/mcs/main.js mcs-gen-crds`; do not edit.\n';

export function crdFile(c: CrdDefinition): { name: string; content: string } {
  return {
    name: `${c.metadata.name.split('.').slice(1).join('.')}_${c.spec.names.plural}.yaml`,
    content: MCS_CRD_HEADER + stringify(c, { lineWidth: 0, singleQuote: true }),
  };
}
