import { describe, expect, it } from 'vitest';
import type { Node } from '../../../src/api/core.js';
import type { Cluster } from '../../../src/api/kinds.js';
import { calicoPoolPlan, remoteCalicoPools } from '../../../src/clusterlink/controller/calico-pools.js';
import type {
  CalicoBlockAffinity,
  CalicoIPPool,
  ConfigMapObject,
} from '../../../src/clusterlink/controller/member-objects.js';
import { type PodCIDRInputs, podCIDRsFor } from '../../../src/clusterlink/controller/pod-cidrs.js';
import { cluster } from './fixtures.js';

const node = (name: string, podCIDRs?: string[]): Node => ({
  metadata: { name },
  ...(podCIDRs ? { spec: { podCIDRs } } : {}),
});
const nodes = [node('n1', ['10.244.1.0/24']), node('n2', ['10.244.2.0/24'])];
const pool = (name: string, cidr: string, extra: Record<string, unknown> = {}): CalicoIPPool => ({
  apiVersion: 'crd.projectcalico.org/v1',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr, ...extra },
});
const block = (node: string, cidr: string, extra: Record<string, unknown> = {}): CalicoBlockAffinity => ({
  metadata: { name: `${node}-${cidr.replace(/[./]/g, '-')}` },
  spec: { node, cidr, state: 'confirmed', deleted: 'false', ...extra },
});
const configMap = (namespace: string, name: string, data: Record<string, string>): ConfigMapObject => ({
  metadata: { namespace, name },
  data,
});
const flannel = (conf: object | string) =>
  configMap('kube-flannel', 'kube-flannel-cfg', {
    'net-conf.json': typeof conf === 'string' ? conf : JSON.stringify(conf),
  });

interface Want {
  cluster: string[];
  clusterSource: string;
  perNode: Record<string, string[]>;
  nodeSource: string;
}

describe('pod CIDR discovery per CNI', () => {
  it.each<[string, PodCIDRInputs, Want]>([
    [
      'GIVEN no CNI objects (cni unset = calico, no Calico CRDs) THEN Node.spec.podCIDRs for both',
      { nodes },
      {
        cluster: ['10.244.1.0/24', '10.244.2.0/24'],
        clusterSource: 'nodes',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN Calico pools (one disabled, one ClusterLink pool for a remote cluster) and block affinities THEN the own pools and each node’s confirmed blocks',
      {
        cni: 'calico',
        nodes,
        calicoIPPools: [
          pool('default-ipv4-ippool', '10.233.64.0/18'),
          pool('old-pool', '10.240.0.5/16', { disabled: true }),
          pool('clusterlink-leaf-2-pod-10-234-64-0-18', '10.234.64.0/18', { disabled: true }),
        ],
        calicoBlockAffinities: [
          block('n1', '10.233.64.0/26'),
          block('n1', '10.233.64.64/26'),
          block('n2', '10.233.65.0/26', { state: 'pending' }),
          block('n2', '10.233.66.0/26', { deleted: 'true' }),
          block('n2', '10.233.67.0/26'),
          block('other', '10.233.68.0/26'),
        ],
      },
      {
        cluster: ['10.233.64.0/18', '10.240.0.0/16'],
        clusterSource: 'calico',
        perNode: { n1: ['10.233.64.0/26', '10.233.64.64/26'], n2: ['10.233.67.0/26'] },
        nodeSource: 'calico',
      },
    ],
    [
      'GIVEN Calico pools but a node without blocks THEN that node has no pod CIDR (not its unused Node.spec.podCIDRs)',
      {
        cni: 'calico',
        nodes,
        calicoIPPools: [pool('default-ipv4-ippool', '10.233.64.0/18')],
        calicoBlockAffinities: [block('n1', '10.233.64.0/26')],
      },
      {
        cluster: ['10.233.64.0/18'],
        clusterSource: 'calico',
        perNode: { n1: ['10.233.64.0/26'], n2: [] },
        nodeSource: 'calico',
      },
    ],
    [
      'GIVEN Calico with only ClusterLink’s pools THEN Node.spec.podCIDRs',
      { cni: 'calico', nodes, calicoIPPools: [pool('clusterlink-x-pod-10-9-0-0-16', '10.9.0.0/16')] },
      {
        cluster: ['10.244.1.0/24', '10.244.2.0/24'],
        clusterSource: 'nodes',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN Flannel dual-stack net-conf.json THEN Network and IPv6Network for the cluster, Node.spec.podCIDRs per node',
      {
        cni: 'flannel',
        nodes,
        flannelConfigMaps: [
          flannel({ Network: '10.244.0.0/16', IPv6Network: 'fd00:244::/56', Backend: { Type: 'vxlan' } }),
        ],
      },
      {
        cluster: ['10.244.0.0/16', 'fd00:244::/56'],
        clusterSource: 'flannel',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN Flannel IPv6-only (EnableIPv4 false) THEN only IPv6Network',
      {
        cni: 'flannel',
        nodes,
        flannelConfigMaps: [
          flannel({ EnableIPv4: false, Network: '10.244.0.0/16', IPv6Network: 'fd00:244::/56' }),
        ],
      },
      {
        cluster: ['fd00:244::/56'],
        clusterSource: 'flannel',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN Flannel whose net-conf.json is not JSON THEN Node.spec.podCIDRs',
      { cni: 'flannel', nodes, flannelConfigMaps: [flannel('{Network: 10.244.0.0/16')] },
      {
        cluster: ['10.244.1.0/24', '10.244.2.0/24'],
        clusterSource: 'nodes',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN Cilium cluster-pool (space-separated lists) and CiliumNodes THEN the pools for the cluster, CiliumNode podCIDRs per node',
      {
        cni: 'cilium',
        nodes,
        ciliumConfig: configMap('kube-system', 'cilium-config', {
          ipam: 'cluster-pool',
          'cluster-pool-ipv4-cidr': '10.0.0.0/9 10.128.0.0/9',
          'cluster-pool-ipv6-cidr': 'fd00:c1::/104',
        }),
        ciliumNodes: [
          { metadata: { name: 'n1' }, spec: { ipam: { podCIDRs: ['10.0.1.0/24', 'fd00:c1::100/120'] } } },
        ],
      },
      {
        cluster: ['10.0.0.0/9', '10.128.0.0/9', 'fd00:c1::/104'],
        clusterSource: 'cilium',
        perNode: { n1: ['10.0.1.0/24', 'fd00:c1::100/120'], n2: [] },
        nodeSource: 'cilium',
      },
    ],
    [
      'GIVEN Cilium cluster-pool (the default IPAM) but no CiliumNode CRD THEN the pools for the cluster, Node.spec.podCIDRs per node',
      {
        cni: 'cilium',
        nodes,
        ciliumConfig: configMap('kube-system', 'cilium-config', { 'cluster-pool-ipv4-cidr': '10.0.0.0/8' }),
      },
      {
        cluster: ['10.0.0.0/8'],
        clusterSource: 'cilium',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN Cilium with ipam kubernetes THEN Node.spec.podCIDRs, the cluster-pool keys ignored',
      {
        cni: 'cilium',
        nodes,
        ciliumConfig: configMap('kube-system', 'cilium-config', {
          ipam: 'kubernetes',
          'cluster-pool-ipv4-cidr': '10.0.0.0/8',
        }),
        ciliumNodes: [],
      },
      {
        cluster: ['10.244.1.0/24', '10.244.2.0/24'],
        clusterSource: 'nodes',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
    [
      'GIVEN cni flannel but Calico objects present THEN the CNI named decides: Calico objects are not read',
      {
        cni: 'flannel',
        nodes,
        calicoIPPools: [pool('default-ipv4-ippool', '10.233.64.0/18')],
        flannelConfigMaps: [flannel({ Network: '10.244.0.0/16' })],
      },
      {
        cluster: ['10.244.0.0/16'],
        clusterSource: 'flannel',
        perNode: { n1: ['10.244.1.0/24'], n2: ['10.244.2.0/24'] },
        nodeSource: 'nodes',
      },
    ],
  ])('%s', (_name, input, want) => {
    const got = podCIDRsFor(input);
    expect({
      cluster: got.cluster,
      clusterSource: got.clusterSource,
      perNode: Object.fromEntries(got.perNode),
      nodeSource: got.nodeSource,
    }).toEqual(want);
  });

  it('GIVEN a fallback THEN a note says why, for the log', () => {
    expect(
      podCIDRsFor({ cni: 'flannel', nodes, flannelConfigMaps: [flannel('nope')] }).notes.join('\n'),
    ).toMatch(/kube-flannel-cfg net-conf.json: not JSON/);
    expect(podCIDRsFor({ cni: 'calico', nodes }).notes).toEqual([
      'cni calico: no Calico IPPool found; using Node.spec.podCIDRs',
    ]);
  });
});

describe('Calico IPPools for remote clusters', () => {
  const own = [pool('default-ipv4-ippool', '10.233.64.0/18')];
  const with_ = (c: Cluster, opts: Record<string, unknown>): Cluster => ({
    ...c,
    spec: { ...c.spec, clusterLinkOptions: { ...c.spec.clusterLinkOptions, ...opts } },
  });

  it('GIVEN two remote clusters THEN one disabled, natOutgoing-false pool per remote pod and service CIDR, named as the Go project names them', () => {
    const pools = remoteCalicoPools(
      'leaf-1',
      [
        cluster('leaf-1', { pod: ['10.233.64.0/18'], svc: ['10.233.0.0/18'] }),
        cluster('leaf-2', { pod: ['10.234.64.0/18'], svc: ['10.234.0.0/28'] }),
        cluster('leaf-3', { ipFamily: 'ipv6', pod: ['fd00:3::/56'], svc: ['fd00:3:1::/112'] }),
      ],
      own,
    );
    expect(pools.map((p) => [p.metadata?.name, p.spec?.cidr, p.spec?.['blockSize']])).toEqual([
      ['clusterlink-leaf-2-pod-10-234-64-0-18', '10.234.64.0/18', 26],
      // Calico wants a pool at least one block long: a /28 gets /28 blocks.
      ['clusterlink-leaf-2-service-10-234-0-0-28', '10.234.0.0/28', 28],
      ['clusterlink-leaf-3-pod-fd00-3---56', 'fd00:3::/56', 122],
      ['clusterlink-leaf-3-service-fd00-3-1---112', 'fd00:3:1::/112', 122],
    ]);
    expect(pools[0]?.spec).toEqual({
      cidr: '10.234.64.0/18',
      blockSize: 26,
      disabled: true,
      natOutgoing: false,
      disableBGPExport: true,
      ipipMode: 'Never',
      vxlanMode: 'Never',
    });
  });

  it('GIVEN a remote cluster with a global CIDR map THEN the pool is for its global CIDR, the one this cluster sends to', () => {
    const leaf2 = with_(cluster('leaf-2', { pod: ['10.233.64.0/18'], svc: [] }), {
      globalCIDRsMap: { '10.233.64.0/18': '10.100.64.0/18' },
    });
    const pools = remoteCalicoPools('leaf-1', [cluster('leaf-1', { pod: ['10.233.64.0/18'] }), leaf2], own);
    expect(pools.map((p) => p.spec?.cidr)).toEqual(['10.100.64.0/18']);
  });

  it('GIVEN a remote CIDR that overlaps a local pool, or the local service CIDR, without a map THEN no pool for it', () => {
    const pools = remoteCalicoPools(
      'leaf-1',
      [
        cluster('leaf-1', { pod: ['10.233.64.0/18'], svc: ['10.96.0.0/12'] }),
        cluster('leaf-2', { pod: ['10.233.0.0/16'], svc: ['10.96.0.0/16'] }),
      ],
      own,
    );
    expect(pools).toEqual([]);
  });

  it('GIVEN a remote cluster with ClusterLink disabled THEN no pool for it', () => {
    const off = with_(cluster('leaf-2', { pod: ['10.234.64.0/18'] }), { enable: false });
    expect(remoteCalicoPools('leaf-1', [cluster('leaf-1'), off], own)).toEqual([]);
  });

  it('GIVEN existing pools THEN missing or changed ones are written, ClusterLink pools no longer wanted deleted, the user’s left alone', () => {
    const wanted = remoteCalicoPools(
      'leaf-1',
      [cluster('leaf-1'), cluster('leaf-2', { pod: ['10.234.64.0/18'], svc: ['10.234.0.0/18'] })],
      own,
    );
    const [podPool, svcPool] = wanted;
    const edited = { ...svcPool!, spec: { ...svcPool!.spec, natOutgoing: true } };
    const plan = calicoPoolPlan(wanted, [
      ...own,
      podPool!,
      edited,
      pool('clusterlink-gone-pod-10-9-0-0-16', '10.9.0.0/16'),
    ]);
    expect(plan.apply.map((p) => p.metadata?.name)).toEqual(['clusterlink-leaf-2-service-10-234-0-0-18']);
    expect(plan.remove).toEqual(['clusterlink-gone-pod-10-9-0-0-16']);
    expect(calicoPoolPlan(wanted, [...own, ...wanted])).toEqual({ apply: [], remove: [] });
  });
});
