import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_CONVERT_POLICY,
  ANNOTATION_HOST_METADATA_KEYS,
  LABEL_POD,
  TAINT_NODE,
} from '../../../src/api/constants.js';
import type { Pod } from '../../../src/api/core.js';
import type { ClusterPodConvertPolicy, PodConvertPolicy } from '../../../src/api/kinds.js';
import {
  LEAF_TOKEN_VOLUME,
  leafPodFor,
  type LeafPodContext,
} from '../../../src/clustertree/transform/pod.js';
import { podDependencies } from '../../../src/clustertree/transform/dependencies.js';
import { hostStatusPatch, statusInSync } from '../../../src/clustertree/transform/status.js';
import { newerInCache } from '../../../src/clustertree/sync/pod-sync.js';

const hostPod = (over: Partial<Pod['spec']> = {}, meta: Pod['metadata'] = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-1',
    namespace: 'shop',
    uid: 'host-uid',
    resourceVersion: '42',
    creationTimestamp: '2026-01-01T00:00:00Z',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs' }],
    labels: { app: 'web' },
    ...meta,
  },
  spec: {
    nodeName: 'kosmos-leaf-1',
    schedulerName: 'kosmos-scheduler',
    nodeSelector: { 'kosmos.io/node': 'true' },
    tolerations: [{ key: TAINT_NODE.key, operator: 'Exists', effect: 'NoSchedule' }],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'kubernetes.io/hostname', operator: 'In', values: ['kosmos-leaf-1'] },
              ],
            },
          ],
        },
      },
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
    },
    priority: 0,
    priorityClassName: 'high',
    serviceAccountName: 'shop-sa',
    containers: [
      {
        name: 'web',
        image: 'nginx',
        volumeMounts: [
          { name: 'cfg', mountPath: '/etc/cfg' },
          {
            name: 'kube-api-access-abcde',
            mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            readOnly: true,
          },
        ],
      },
    ],
    volumes: [
      { name: 'cfg', configMap: { name: 'web-config' } },
      {
        name: 'kube-api-access-abcde',
        projected: {
          sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }],
        },
      },
    ],
    ...over,
  },
  status: { phase: 'Pending' },
});

const ctx = (over: Partial<LeafPodContext> = {}): LeafPodContext => ({
  mode: 'one2cluster',
  virtualNodeLabels: { 'kosmos.io/cluster': 'leaf-1' },
  policies: { cluster: [], namespaced: [] },
  hostApiserver: { host: '10.0.0.1', port: 6443 },
  ...over,
});

describe('host pod → leaf pod', () => {
  it('keeps name, namespace and labels, adds kosmos-io/pod=true, and drops host identity and status', () => {
    const leaf = leafPodFor(hostPod(), ctx());
    expect(leaf.metadata).toEqual({
      name: 'web-1',
      namespace: 'shop',
      labels: { app: 'web', [LABEL_POD]: 'true' },
      annotations: {
        [ANNOTATION_HOST_METADATA_KEYS]: JSON.stringify({ labels: ['app', LABEL_POD], annotations: [] }),
      },
    });
    expect(leaf.status).toBeUndefined();
  });

  it('drops scheduling aimed at virtual nodes but keeps tolerations and pod anti-affinity', () => {
    const leaf = leafPodFor(hostPod(), ctx());
    expect(leaf.spec.nodeName).toBeUndefined();
    expect(leaf.spec.schedulerName).toBeUndefined();
    expect(leaf.spec.nodeSelector).toBeUndefined();
    expect(leaf.spec.affinity).toEqual({
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
    });
    expect(leaf.spec.tolerations).toHaveLength(1);
  });

  it('leaves priority to the leaf, which may not have the host priority class', () => {
    const leaf = leafPodFor(hostPod(), ctx());
    expect(leaf.spec.priority).toBeUndefined();
    expect(leaf.spec.priorityClassName).toBeUndefined();
  });

  it('one2one keeps the pod on its member node', () => {
    const leaf = leafPodFor(
      hostPod({ nodeName: 'leaf-1-node-0' }),
      ctx({ mode: 'one2one', memberNodeName: 'leaf-1-node-0' }),
    );
    expect(leaf.spec.nodeName).toBe('leaf-1-node-0');
  });

  it('one2party pins the pod to the party with required node affinity from the leafModel selector', () => {
    const leaf = leafPodFor(
      hostPod(),
      ctx({
        mode: 'one2party',
        partySelector: { matchLabels: { pool: 'a' }, matchExpressions: [{ key: 'gpu', operator: 'Exists' }] },
      }),
    );
    expect(leaf.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: 'pool', operator: 'In', values: ['a'] },
            { key: 'gpu', operator: 'Exists' },
          ],
        },
      ],
    });
  });

  it('replaces the host token volume with host credentials from leaf copies and points in-cluster clients at the host', () => {
    const leaf = leafPodFor(hostPod(), ctx());
    expect(leaf.spec.automountServiceAccountToken).toBe(false);
    const vol = leaf.spec.volumes?.find((v) => v.name === LEAF_TOKEN_VOLUME);
    expect(vol?.projected?.sources).toEqual([
      { secret: { name: 'kosmos-shop-sa-token', items: [{ key: 'token', path: 'token' }] } },
      { configMap: { name: 'master-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      {
        downwardAPI: {
          items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
        },
      },
    ]);
    expect(leaf.spec.volumes?.some((v) => v.name.startsWith('kube-api-access-'))).toBe(false);
    const c = leaf.spec.containers[0];
    expect(c?.volumeMounts).toContainEqual({
      name: LEAF_TOKEN_VOLUME,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    });
    expect(c?.env).toEqual([
      { name: 'KUBERNETES_SERVICE_HOST', value: '10.0.0.1' },
      { name: 'KUBERNETES_SERVICE_PORT', value: '6443' },
    ]);
  });

  it('a pod that opted out of API credentials gets none in the leaf either', () => {
    const pod = hostPod({
      automountServiceAccountToken: false,
      volumes: [{ name: 'cfg', configMap: { name: 'web-config' } }],
    });
    pod.spec.containers[0]!.volumeMounts = [{ name: 'cfg', mountPath: '/etc/cfg' }];
    const leaf = leafPodFor(pod, ctx());
    expect(leaf.spec.volumes).toEqual([{ name: 'cfg', configMap: { name: 'web-config' } }]);
    expect(leaf.spec.containers[0]?.env).toBeUndefined();
    expect(podDependencies(pod).map((d) => `${d.kind}/${d.leafName}`)).toEqual([
      'ConfigMap/web-config',
      'ServiceAccount/shop-sa',
    ]);
  });

  it('renames the host CA ConfigMap wherever a user volume references it', () => {
    const pod = hostPod({ volumes: [{ name: 'ca', configMap: { name: 'kube-root-ca.crt' } }] });
    expect(leafPodFor(pod, ctx()).spec.volumes?.[0]).toEqual({
      name: 'ca',
      configMap: { name: 'master-root-ca.crt' },
    });
  });

  it('does not modify the host pod', () => {
    const pod = hostPod();
    const before = structuredClone(pod);
    leafPodFor(pod, ctx());
    expect(pod).toEqual(before);
  });
});

const policy = (name: string, spec: PodConvertPolicy['spec'], namespace = 'shop'): PodConvertPolicy => ({
  apiVersion: 'kosmos.io/v1alpha1',
  kind: 'PodConvertPolicy',
  metadata: { name, namespace },
  spec,
});

describe('PodConvertPolicy', () => {
  const sel = { matchLabels: { app: 'web' } };
  it.each([
    [
      'add sets an empty field',
      { nodeSelectorConverter: { convertType: 'add' as const, nodeSelector: { disk: 'ssd' } } },
      { disk: 'ssd' },
    ],
    [
      'replace overwrites it',
      { nodeSelectorConverter: { convertType: 'replace' as const, nodeSelector: { disk: 'hdd' } } },
      { disk: 'hdd' },
    ],
    ['remove clears it', { nodeSelectorConverter: { convertType: 'remove' as const } }, undefined],
  ])('%s', (_name, converters, expected) => {
    const leaf = leafPodFor(
      hostPod(),
      ctx({ policies: { cluster: [], namespaced: [policy('p', { labelSelector: sel, converters })] } }),
    );
    expect(leaf.spec.nodeSelector).toEqual(expected);
    expect(leaf.metadata?.annotations?.[ANNOTATION_CONVERT_POLICY]).toBe('p');
  });

  it('add leaves a field the pod already has (topology spread checks the constraints, not the affinity)', () => {
    const p = policy('p', {
      labelSelector: sel,
      converters: {
        tolerationConverter: { convertType: 'add', tolerations: [{ key: 'x', operator: 'Exists' }] },
        topologySpreadConstraintsConverter: {
          convertType: 'add',
          topologySpreadConstraints: [{ maxSkew: 2 }],
        },
      },
    });
    const leaf = leafPodFor(hostPod(), ctx({ policies: { cluster: [], namespaced: [p] } }));
    expect(leaf.spec.tolerations).toHaveLength(1); // the pod's own toleration stays
    expect(leaf.spec.topologySpreadConstraints).toEqual([{ maxSkew: 2 }]); // dropped from host, so add applies
  });

  it('a policy whose leafNodeSelector does not match the virtual node does not apply', () => {
    const p = policy('p', {
      labelSelector: sel,
      leafNodeSelector: { matchLabels: { 'kosmos.io/cluster': 'leaf-2' } },
      converters: { schedulerNameConverter: { convertType: 'replace', schedulerName: 'leaf-sched' } },
    });
    expect(
      leafPodFor(hostPod(), ctx({ policies: { cluster: [], namespaced: [p] } })).spec.schedulerName,
    ).toBeUndefined();
  });

  it('any ClusterPodConvertPolicy takes precedence over namespaced ones; policies of other namespaces never apply', () => {
    const cp: ClusterPodConvertPolicy = {
      apiVersion: 'kosmos.io/v1alpha1',
      kind: 'ClusterPodConvertPolicy',
      metadata: { name: 'c' },
      spec: {
        labelSelector: sel,
        converters: { schedulerNameConverter: { convertType: 'replace', schedulerName: 'cluster-wide' } },
      },
    };
    const np = policy('n', {
      labelSelector: sel,
      converters: { schedulerNameConverter: { convertType: 'replace', schedulerName: 'ns' } },
    });
    expect(
      leafPodFor(hostPod(), ctx({ policies: { cluster: [cp], namespaced: [np] } })).spec.schedulerName,
    ).toBe('cluster-wide');
    const other = policy(
      'o',
      {
        labelSelector: sel,
        converters: { schedulerNameConverter: { convertType: 'replace', schedulerName: 'x' } },
      },
      'other',
    );
    expect(
      leafPodFor(hostPod(), ctx({ policies: { cluster: [], namespaced: [other] } })).spec.schedulerName,
    ).toBeUndefined();
  });
});

describe('dependencies of a pod', () => {
  it('lists ConfigMaps, Secrets, pull Secrets, PVCs, the ServiceAccount and its token Secret, with leaf names', () => {
    const pod = hostPod({
      imagePullSecrets: [{ name: 'regcred' }],
      volumes: [
        { name: 'cfg', configMap: { name: 'web-config' } },
        { name: 'tls', secret: { secretName: 'web-tls' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
        { name: 'kube-api-access-x', projected: { sources: [{ configMap: { name: 'kube-root-ca.crt' } }] } },
      ],
      containers: [
        {
          name: 'web',
          env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'a' } } }],
          envFrom: [{ secretRef: { name: 'env-secret' } }],
        },
      ],
    });
    expect(podDependencies(pod).map((d) => `${d.kind}/${d.name}→${d.leafName}`)).toEqual([
      'ConfigMap/env-cm→env-cm',
      'ConfigMap/kube-root-ca.crt→master-root-ca.crt',
      'ConfigMap/web-config→web-config',
      'PersistentVolumeClaim/data→data',
      'Secret/env-secret→env-secret',
      'Secret/kosmos-shop-sa-token→kosmos-shop-sa-token',
      'Secret/regcred→regcred',
      'Secret/web-tls→web-tls',
      'ServiceAccount/shop-sa→shop-sa',
    ]);
  });
});

describe('leaf status → host status', () => {
  it('copies phase, conditions, IPs and container statuses, and deletes what the leaf no longer has', () => {
    const leaf: Pod = {
      metadata: { name: 'web-1' },
      spec: { containers: [] },
      status: {
        phase: 'Running',
        podIP: '10.34.0.5',
        podIPs: [{ ip: '10.34.0.5' }],
        hostIP: '172.18.0.3',
        containerStatuses: [{ name: 'web', ready: true }],
      },
    };
    const patch = hostStatusPatch(leaf);
    expect(patch).toMatchObject({
      phase: 'Running',
      podIP: '10.34.0.5',
      hostIP: '172.18.0.3',
      message: null,
      conditions: null,
    });
    const host: Pod = {
      metadata: {},
      spec: { containers: [] },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
    expect(statusInSync(host, leaf)).toBe(false);
    expect(statusInSync({ ...host, status: { ...leaf.status, qosClass: 'BestEffort' } }, leaf)).toBe(true);
  });
});

describe('stale status jobs', () => {
  it.each([
    ['a later cached version makes the job redundant', '120', '100', true],
    ['the same version is not newer', '100', '100', false],
    ['a cache behind the job (another process) is not newer', '90', '100', false],
    ['no cached copy is not newer', undefined, '100', false],
    ['non-numeric versions are never compared', 'abc', '100', false],
  ])('%s', (_name, cached, rv, expected) => {
    expect(newerInCache(cached, rv)).toBe(expected);
  });
});
