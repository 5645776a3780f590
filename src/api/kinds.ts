/**
 * The kosmos.io/v1alpha1 kinds: for each, the schema (single source of truth), the
 * TypeScript type derived from it, and the CRD facts (names, scope, columns).
 */
import type { FromSchema as FromSchemaStrict, JSONSchema } from 'json-schema-to-ts';
import { API_VERSION } from './constants.js';
import type { ObjectMeta } from './meta.js';
import { clusterSpecSchema, clusterStatusSchema } from './schema/cluster.js';
import { clusterNodeSpecSchema, clusterNodeStatusSchema } from './schema/cluster-node.js';
import { distributionPolicySpecSchema } from './schema/distribution-policy.js';
import { nodeConfigSpecSchema, nodeConfigStatusSchema } from './schema/node-config.js';
import { podConvertPolicySpecSchema } from './schema/pod-convert-policy.js';
import { workloadPolicySpecSchema } from './schema/workload-policy.js';
import { KosmosError } from '../common/errors.js';

/**
 * Defaulted fields stay optional: objects may come from users or tests without the
 * apiserver's defaulting, so code must treat a missing field as its default.
 */
type FromSchema<S extends JSONSchema> = FromSchemaStrict<S, { keepDefaultedPropertiesOptional: true }>;

export type DistributionPolicySpec = FromSchema<typeof distributionPolicySpecSchema>;
export type PolicyTerm = DistributionPolicySpec['policyTerms'][number];
export type ResourceSelector = DistributionPolicySpec['resourceSelectors'][number];
export type WorkloadPolicySpec = FromSchema<typeof workloadPolicySpecSchema>;
export type ClusterSpec = FromSchema<typeof clusterSpecSchema>;
export type ClusterStatus = FromSchema<typeof clusterStatusSchema>;
export type ClusterLinkOptions = NonNullable<ClusterSpec['clusterLinkOptions']>;
export type ClusterTreeOptions = NonNullable<ClusterSpec['clusterTreeOptions']>;
export type LeafModel = NonNullable<ClusterTreeOptions['leafModels']>[number];
export type ClusterNodeSpec = FromSchema<typeof clusterNodeSpecSchema>;
export type ClusterNodeStatus = FromSchema<typeof clusterNodeStatusSchema>;
export type NodeConfigSpec = FromSchema<typeof nodeConfigSpecSchema>;
export type NodeConfigStatus = FromSchema<typeof nodeConfigStatusSchema>;
export type PodConvertPolicySpec = FromSchema<typeof podConvertPolicySpecSchema>;

export type Device = NonNullable<NodeConfigSpec['devices']>[number];
export type Route = NonNullable<NodeConfigSpec['routes']>[number];
export type IptablesRule = NonNullable<NodeConfigSpec['iptables']>[number];
export type Fdb = NonNullable<NodeConfigSpec['fdbs']>[number];
export type Arp = NonNullable<NodeConfigSpec['arps']>[number];

interface KosmosObject<K extends string, Spec, Status = never> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type DistributionPolicy = KosmosObject<'DistributionPolicy', DistributionPolicySpec>;
export type ClusterDistributionPolicy = KosmosObject<'ClusterDistributionPolicy', DistributionPolicySpec>;
export type WorkloadPolicy = KosmosObject<'WorkloadPolicy', WorkloadPolicySpec>;
export type Cluster = KosmosObject<'Cluster', ClusterSpec, ClusterStatus>;
export type ClusterNode = KosmosObject<'ClusterNode', ClusterNodeSpec, ClusterNodeStatus>;
export type NodeConfig = KosmosObject<'NodeConfig', NodeConfigSpec, NodeConfigStatus>;
export type PodConvertPolicy = KosmosObject<'PodConvertPolicy', PodConvertPolicySpec>;
export type ClusterPodConvertPolicy = KosmosObject<'ClusterPodConvertPolicy', PodConvertPolicySpec>;

export type KindName =
  | 'Cluster'
  | 'ClusterNode'
  | 'NodeConfig'
  | 'DistributionPolicy'
  | 'ClusterDistributionPolicy'
  | 'PodConvertPolicy'
  | 'ClusterPodConvertPolicy'
  | 'WorkloadPolicy';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean' | 'number';
  jsonPath: string;
  priority?: number;
}

export interface KindInfo {
  kind: KindName;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  specSchema: object;
  statusSchema?: object;
  specRequired: boolean;
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'AGE', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'Cluster',
    plural: 'clusters',
    singular: 'cluster',
    shortNames: [],
    scope: 'Cluster',
    specSchema: clusterSpecSchema,
    statusSchema: clusterStatusSchema,
    specRequired: true,
    printerColumns: [
      { name: 'NETWORK_TYPE', type: 'string', jsonPath: '.spec.clusterLinkOptions.networkType' },
      { name: 'IP_FAMILY', type: 'string', jsonPath: '.spec.clusterLinkOptions.ipFamily' },
      { name: 'MEMBER_NODES', type: 'integer', jsonPath: '.status.clusterTreeStatus.memberNodes' },
      age,
    ],
  },
  {
    kind: 'ClusterNode',
    plural: 'clusternodes',
    singular: 'clusternode',
    shortNames: [],
    scope: 'Cluster',
    specSchema: clusterNodeSpecSchema,
    statusSchema: clusterNodeStatusSchema,
    specRequired: false,
    printerColumns: [
      { name: 'ROLES', type: 'string', jsonPath: '.spec.roles' },
      { name: 'INTERFACE', type: 'string', jsonPath: '.spec.interfaceName' },
      { name: 'IP', type: 'string', jsonPath: '.spec.ip' },
      age,
    ],
  },
  {
    kind: 'NodeConfig',
    plural: 'nodeconfigs',
    singular: 'nodeconfig',
    shortNames: [],
    scope: 'Cluster',
    specSchema: nodeConfigSpecSchema,
    statusSchema: nodeConfigStatusSchema,
    specRequired: false,
    printerColumns: [
      { name: 'APPLIED', type: 'integer', jsonPath: '.status.appliedGeneration' },
      { name: 'LAST_SYNC', type: 'date', jsonPath: '.status.lastSyncTime' },
      { name: 'ERROR', type: 'string', jsonPath: '.status.error', priority: 1 },
      age,
    ],
  },
  {
    kind: 'DistributionPolicy',
    plural: 'distributionpolicies',
    singular: 'distributionpolicy',
    shortNames: ['dp'],
    scope: 'Namespaced',
    specSchema: distributionPolicySpecSchema,
    specRequired: true,
    printerColumns: [age],
  },
  {
    kind: 'ClusterDistributionPolicy',
    plural: 'clusterdistributionpolicies',
    singular: 'clusterdistributionpolicy',
    shortNames: ['cdp'],
    scope: 'Cluster',
    specSchema: distributionPolicySpecSchema,
    specRequired: true,
    printerColumns: [age],
  },
  {
    kind: 'PodConvertPolicy',
    plural: 'podconvertpolicies',
    singular: 'podconvertpolicy',
    shortNames: ['pcp'],
    scope: 'Namespaced',
    specSchema: podConvertPolicySpecSchema,
    specRequired: true,
    printerColumns: [age],
  },
  {
    kind: 'ClusterPodConvertPolicy',
    plural: 'clusterpodconvertpolicies',
    singular: 'clusterpodconvertpolicy',
    shortNames: ['cpcp'],
    scope: 'Cluster',
    specSchema: podConvertPolicySpecSchema,
    specRequired: true,
    printerColumns: [age],
  },
  {
    kind: 'WorkloadPolicy',
    plural: 'workloadpolicies',
    singular: 'workloadpolicy',
    shortNames: ['wlp'],
    scope: 'Namespaced',
    specSchema: workloadPolicySpecSchema,
    specRequired: true,
    printerColumns: [
      { name: 'TOPOLOGY_KEY', type: 'string', jsonPath: '.spec.topologyKey' },
      { name: 'TYPE', type: 'string', jsonPath: '.spec.allocationType' },
      { name: 'METHOD', type: 'string', jsonPath: '.spec.allocationMethod' },
      age,
    ],
  },
];

export function kindInfo(kind: KindName): KindInfo {
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) throw new KosmosError(`unknown Kosmos kind ${kind}`);
  return info;
}
