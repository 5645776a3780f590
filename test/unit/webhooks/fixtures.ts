/** Builders for the objects the webhook tests feed in; each test states only what it varies. */
import { API_VERSION } from '../../../src/api/constants.js';
import type { Pod } from '../../../src/api/core.js';
import type {
  Cluster,
  ClusterSpec,
  DistributionPolicy,
  ClusterDistributionPolicy,
  PolicyTerm,
  ResourceSelector,
} from '../../../src/api/kinds.js';
import type { AdmissionRequest } from '../../../src/webhooks/review.js';

export function pod(
  name: string,
  over: Partial<Pod['spec']> = {},
  labels: Record<string, string> = {},
  namespace = 'default',
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { schedulerName: 'default-scheduler', containers: [{ name: 'app', image: 'nginx' }], ...over },
  };
}

export function dp(
  name: string,
  selectors: ResourceSelector[],
  terms: PolicyTerm[],
  namespace = 'default',
  creationTimestamp = '2026-01-01T00:00:00Z',
): DistributionPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'DistributionPolicy',
    metadata: { name, namespace, creationTimestamp },
    spec: { resourceSelectors: selectors, policyTerms: terms },
  };
}

export function cdp(
  name: string,
  selectors: ResourceSelector[],
  terms: PolicyTerm[],
): ClusterDistributionPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterDistributionPolicy',
    metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { resourceSelectors: selectors, policyTerms: terms },
  };
}

export function cluster(name: string, spec: ClusterSpec, status?: Cluster['status']): Cluster {
  const c: Cluster = { apiVersion: API_VERSION, kind: 'Cluster', metadata: { name }, spec };
  if (status) c.status = status;
  return c;
}

export const KUBECONFIG = Buffer.from(
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: leaf',
    '  cluster: {server: "https://10.0.0.1:6443"}',
    'contexts:',
    '- name: leaf',
    '  context: {cluster: leaf, user: admin}',
    'current-context: leaf',
    'users:',
    '- name: admin',
    '  user: {token: abc}',
  ].join('\n'),
).toString('base64');

let uid = 0;
export function request(
  object: unknown,
  over: Partial<AdmissionRequest> & { kind?: AdmissionRequest['kind'] } = {},
): AdmissionRequest {
  uid += 1;
  return {
    uid: `uid-${uid}`,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'default',
    object: object as Record<string, unknown>,
    ...over,
  };
}

/** Applies a JSONPatch made only of `add` ops on /spec/<field> (all the mutator emits). */
export function applySpecPatch<T extends { spec: object }>(obj: T, patchBase64: string | undefined): T {
  if (!patchBase64) return obj;
  const ops = JSON.parse(Buffer.from(patchBase64, 'base64').toString('utf8')) as {
    op: string;
    path: string;
    value: unknown;
  }[];
  const out = structuredClone(obj) as T & { spec: Record<string, unknown> };
  for (const op of ops) {
    const m = /^\/spec\/([A-Za-z]+)$/.exec(op.path);
    if (op.op !== 'add' || !m) throw new Error(`unexpected patch op ${JSON.stringify(op)}`);
    out.spec[m[1] as string] = op.value;
  }
  return out;
}
