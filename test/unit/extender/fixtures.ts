/** Small builders for host nodes, virtual nodes, member nodes, pods and policies. */
import {
  ANNOTATION_OWNED_BY_CLUSTER,
  API_VERSION,
  LABEL_CLUSTER,
  LABEL_NODE,
  LABEL_ROLE_AGENT,
  LABEL_WORKLOAD_POLICY,
  TAINT_NODE,
} from '../../../src/api/constants.js';
import type { Node, Pod, ResourceList, Taint, Toleration } from '../../../src/api/core.js';
import type {
  ClusterDistributionPolicy,
  DistributionPolicy,
  DistributionPolicySpec,
  WorkloadPolicy,
  WorkloadPolicySpec,
} from '../../../src/api/kinds.js';
import { ExtenderCache } from '../../../src/extender/cache.js';

export function hostNode(name: string, labels: Record<string, string> = {}, taints: Taint[] = []): Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    spec: { taints },
    status: {
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

/** A virtual node as ClusterTree makes it: kosmos label, cluster label, owner annotation, leaf taint. */
export function leafNode(
  name: string,
  cluster: string,
  labels: Record<string, string> = {},
  taints: Taint[] = [{ ...TAINT_NODE }],
): Node {
  return {
    metadata: {
      name,
      labels: { [LABEL_NODE]: 'true', [LABEL_CLUSTER]: cluster, [LABEL_ROLE_AGENT]: 'agent', ...labels },
      annotations: { [ANNOTATION_OWNED_BY_CLUSTER]: cluster },
    },
    spec: { taints },
    status: {
      allocatable: { cpu: '1000', memory: '1000Gi', pods: '10000' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export function memberNode(
  name: string,
  allocatable: ResourceList,
  opts: { labels?: Record<string, string>; taints?: Taint[]; ready?: boolean; unschedulable?: boolean } = {},
): Node {
  return {
    metadata: { name, labels: opts.labels ?? {} },
    spec: { taints: opts.taints ?? [], unschedulable: opts.unschedulable ?? false },
    status: {
      allocatable: { pods: '110', memory: '64Gi', ...allocatable },
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

let uidCounter = 0;

export function pod(
  name: string,
  opts: {
    namespace?: string;
    labels?: Record<string, string>;
    requests?: ResourceList;
    tolerations?: Toleration[];
    nodeSelector?: Record<string, string>;
    nodeName?: string;
    claims?: string[];
    ownerKind?: string;
    uid?: string;
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  } = {},
): Pod {
  const p: Pod = {
    metadata: {
      name,
      namespace: opts.namespace ?? 'default',
      uid: opts.uid ?? `uid-${name}-${++uidCounter}`,
      labels: opts.labels ?? {},
      ...(opts.ownerKind
        ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: opts.ownerKind, name: 'owner', uid: 'o' }] }
        : {}),
    },
    spec: {
      containers: [{ name: 'c', resources: { requests: opts.requests ?? {} } }],
      ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
      ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      ...(opts.claims
        ? { volumes: opts.claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })) }
        : {}),
    },
    status: { phase: opts.phase ?? 'Pending' },
  };
  return p;
}

export function dp(
  name: string,
  namespace: string,
  spec: DistributionPolicySpec,
  creationTimestamp = '2024-01-01T00:00:00Z',
): DistributionPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'DistributionPolicy',
    metadata: { name, namespace, creationTimestamp },
    spec,
  };
}

export function cdp(
  name: string,
  spec: DistributionPolicySpec,
  creationTimestamp = '2024-01-01T00:00:00Z',
): ClusterDistributionPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterDistributionPolicy',
    metadata: { name, creationTimestamp },
    spec,
  };
}

export function wlp(name: string, namespace: string, spec: WorkloadPolicySpec): WorkloadPolicy {
  return { apiVersion: API_VERSION, kind: 'WorkloadPolicy', metadata: { name, namespace }, spec };
}

export const WLP_LABEL = LABEL_WORKLOAD_POLICY;

/** The four standard terms of the Kosmos e2e policies. */
export const TERMS: DistributionPolicySpec['policyTerms'] = [
  { name: 'host', nodeType: 'host' },
  { name: 'leaf', nodeType: 'leaf' },
  { name: 'mix', nodeType: 'mix' },
  { name: 'adv', nodeType: 'adv', advancedTerm: { nodeSelector: { advNode: 'true' } } },
];

/** The Kosmos e2e DistributionPolicy in test-name-scope and the ClusterDistributionPolicy. */
export function kosmosE2ePolicies(): [DistributionPolicy, ClusterDistributionPolicy] {
  return [
    dp('kosmos-namespace-distribution-policy', 'test-name-scope', {
      resourceSelectors: [
        { name: 'nginx', policyName: 'leaf' },
        { namePrefix: 'nginx-prefix', policyName: 'host' },
        { labelSelector: { matchLabels: { 'example-distribution-policy': 'nginx' } }, policyName: 'mix' },
      ],
      policyTerms: TERMS,
    }),
    cdp('kosmos-cluster-distribution-policy', {
      resourceSelectors: [
        { name: 'cluster-nginx', policyName: 'mix' },
        { namePrefix: 'cluster-nginx-prefix', policyName: 'host' },
        {
          labelSelector: { matchLabels: { 'example-distribution-policy': 'cluster-nginx' } },
          policyName: 'leaf',
        },
      ],
      policyTerms: TERMS,
    }),
  ];
}

/** Two host nodes and two one2cluster leaf nodes (leaf-1, leaf-2), no member data. */
export function smallWorld(options: { hostCapacity?: boolean } = {}): ExtenderCache {
  const cache = new ExtenderCache(options);
  cache.upsertNode(hostNode('host-1'));
  cache.upsertNode(hostNode('host-2', { advNode: 'true' }));
  cache.upsertNode(leafNode('kosmos-leaf-1', 'leaf-1'));
  cache.upsertNode(leafNode('kosmos-leaf-2', 'leaf-2'));
  return cache;
}

export const ALL = ['host-1', 'host-2', 'kosmos-leaf-1', 'kosmos-leaf-2'];
