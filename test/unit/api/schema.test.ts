import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/constants.js';
import { crdFileContent, crdFileName } from '../../../src/api/crd-files.js';
import { crdFor, toStructural } from '../../../src/api/crds.js';
import { formatFieldError } from '../../../src/api/field-errors.js';
import {
  KINDS,
  type Cluster,
  type ClusterDistributionPolicy,
  type ClusterNode,
  type ClusterPodConvertPolicy,
  type DistributionPolicy,
  type KindName,
  type NodeConfig,
  type PodConvertPolicy,
  type WorkloadPolicy,
} from '../../../src/api/kinds.js';
import { validateSchema } from '../../../src/api/validate.js';

const messages = (kind: KindName, obj: unknown) => validateSchema(kind, obj).map(formatFieldError);

// Each fixture is typed with the TypeScript type derived from the schema: if the type
// and the schema disagreed, either this file would not compile or ajv would refuse it.
const dp: DistributionPolicy = {
  apiVersion: API_VERSION,
  kind: 'DistributionPolicy',
  metadata: { name: 'p', namespace: 'default' },
  spec: {
    resourceSelectors: [
      { name: 'nginx', policyName: 'leaf' },
      { labelSelector: { matchLabels: { a: '1' } }, policyName: 'adv' },
    ],
    policyTerms: [
      {
        name: 'leaf',
        nodeType: 'leaf',
        topologySpreadConstraints: [{ topologyKey: 'kosmos.io/cluster', maxSkew: 1 }],
      },
      {
        name: 'adv',
        nodeType: 'adv',
        advancedTerm: { nodeSelector: { advNode: 'true' }, tolerations: [{ key: 'k', operator: 'Exists' }] },
      },
    ],
  },
};
const cdp: ClusterDistributionPolicy = { ...dp, kind: 'ClusterDistributionPolicy', metadata: { name: 'c' } };
const wlp: WorkloadPolicy = {
  apiVersion: API_VERSION,
  kind: 'WorkloadPolicy',
  metadata: { name: 'w', namespace: 'default' },
  spec: {
    topologyKey: 'kosmos.io/cluster',
    labelSelector: { matchLabels: { app: 'web' } },
    allocationPolicy: [
      { name: 'leaf-1', replicas: 3 },
      { name: 'leaf-2', replicas: 6 },
    ],
    allocationType: 'Required',
    allocationMethod: 'Fill',
  },
};
const cluster: Cluster = {
  apiVersion: API_VERSION,
  kind: 'Cluster',
  metadata: { name: 'leaf-1' },
  spec: {
    kubeconfig: Buffer.from('apiVersion: v1').toString('base64'),
    clusterLinkOptions: {
      networkType: 'gateway',
      ipFamily: 'ipv4',
      globalCIDRsMap: { '10.0.0.0/16': '20.0.0.0/16' },
    },
    clusterTreeOptions: {
      leafModels: [{ leafNodeName: 'party', nodeSelector: { labelSelector: { matchLabels: { z: '1' } } } }],
    },
  },
  status: { clusterLinkStatus: { podCIDRs: ['10.0.0.0/16'] } },
};
const clusterNode: ClusterNode = {
  apiVersion: API_VERSION,
  kind: 'ClusterNode',
  metadata: { name: 'leaf-1-n1' },
  spec: {
    clusterName: 'leaf-1',
    nodeName: 'n1',
    podCIDRs: ['10.0.1.0/24'],
    ip: '192.168.0.2',
    roles: ['gateway'],
  },
};
const nodeConfig: NodeConfig = {
  apiVersion: API_VERSION,
  kind: 'NodeConfig',
  metadata: { name: 'leaf-1-n1' },
  spec: {
    devices: [
      {
        type: 'vxlan',
        name: 'vx-bridge',
        addr: '220.0.0.2/8',
        mac: '02:00:00:00:00:01',
        bindDev: 'eth0',
        id: 54,
        port: 4876,
      },
    ],
    routes: [{ cidr: '10.1.0.0/16', gw: '220.0.0.3', dev: 'vx-bridge' }],
  },
  status: { appliedGeneration: 1, lastSyncTime: '2026-01-01T00:00:00Z' },
};
const pcp: PodConvertPolicy = {
  apiVersion: API_VERSION,
  kind: 'PodConvertPolicy',
  metadata: { name: 'x', namespace: 'default' },
  spec: {
    labelSelector: { matchLabels: { app: 'web' } },
    converters: { schedulerNameConverter: { convertType: 'replace', schedulerName: 'default-scheduler' } },
  },
};
const cpcp: ClusterPodConvertPolicy = { ...pcp, kind: 'ClusterPodConvertPolicy', metadata: { name: 'x' } };

describe('the kosmos.io/v1alpha1 schemas', () => {
  it.each([
    ['DistributionPolicy', dp],
    ['ClusterDistributionPolicy', cdp],
    ['WorkloadPolicy', wlp],
    ['Cluster', cluster],
    ['ClusterNode', clusterNode],
    ['NodeConfig', nodeConfig],
    ['PodConvertPolicy', pcp],
    ['ClusterPodConvertPolicy', cpcp],
  ] as const)('accept a well-formed %s written with its TypeScript type', (kind, obj) => {
    expect(messages(kind, obj)).toEqual([]);
  });

  it('name the field and the supported values of a bad enum, as the apiserver does', () => {
    const bad = structuredClone(dp) as unknown as { spec: { policyTerms: { nodeType: string }[] } };
    bad.spec.policyTerms[1]!.nodeType = 'bogus';
    expect(messages('DistributionPolicy', bad)).toEqual([
      'spec.policyTerms[1].nodeType: Unsupported value: "bogus": supported values: "host", "leaf", "mix", "adv"',
    ]);
  });

  it('report a missing required field and an empty list with their paths', () => {
    expect(
      messages('WorkloadPolicy', {
        ...wlp,
        spec: { ...wlp.spec, allocationPolicy: [], topologyKey: undefined },
      }),
    ).toEqual(
      expect.arrayContaining([
        'spec.topologyKey: Required value',
        'spec.allocationPolicy: Required value: must have at least 1 item(s)',
      ]),
    );
  });

  it('refuse negative replicas', () => {
    const bad = { ...wlp, spec: { ...wlp.spec, allocationPolicy: [{ name: 'leaf-1', replicas: -1 }] } };
    expect(messages('WorkloadPolicy', bad)).toEqual([
      'spec.allocationPolicy[0].replicas: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });
});

describe('the CRDs in deploy/crds', () => {
  it.each(KINDS.map((k) => [k.kind, k] as const))(
    '%s matches what the schema generates (npm run gen:crds)',
    (_kind, info) => {
      const onDisk = readFileSync(join('deploy', 'crds', crdFileName(info)), 'utf8');
      expect(onDisk).toBe(crdFileContent(info));
    },
  );

  it('are structural: no additionalProperties:false anywhere', () => {
    for (const info of KINDS)
      expect(JSON.stringify(crdFor(info))).not.toContain('"additionalProperties":false');
  });

  it('keep the Go project names: short names, category, scope and status subresources', () => {
    const byKind = Object.fromEntries(
      KINDS.map((k) => [k.kind, crdFor(k) as { spec: Record<string, unknown> }]),
    );
    expect(byKind['DistributionPolicy']!.spec).toMatchObject({
      scope: 'Namespaced',
      names: { shortNames: ['dp'], categories: ['kosmos-io'] },
    });
    expect(byKind['ClusterDistributionPolicy']!.spec).toMatchObject({
      scope: 'Cluster',
      names: { shortNames: ['cdp'] },
    });
    expect(byKind['WorkloadPolicy']!.spec).toMatchObject({
      scope: 'Namespaced',
      names: { shortNames: ['wlp'] },
    });
    expect(JSON.stringify(byKind['NodeConfig'])).toContain('"subresources":{"status":{}}');
    expect(JSON.stringify(byKind['DistributionPolicy'])).not.toContain('subresources');
  });

  it('toStructural keeps Kubernetes extensions and defaults', () => {
    expect(
      toStructural({
        type: 'object',
        additionalProperties: false,
        'x-kubernetes-map-type': 'atomic',
        default: {},
      }),
    ).toEqual({
      type: 'object',
      'x-kubernetes-map-type': 'atomic',
      default: {},
    });
  });
});
