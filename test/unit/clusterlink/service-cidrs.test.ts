import { describe, expect, it } from 'vitest';
import type { Pod } from '../../../src/api/core.js';
import type { Cluster } from '../../../src/api/kinds.js';
import type { ServiceCIDRObject } from '../../../src/clusterlink/controller/member-objects.js';
import {
  type ServiceCIDRInputs,
  apiserverServiceRanges,
  serviceCIDRsFor,
} from '../../../src/clusterlink/controller/service-cidrs.js';
import { type JoinOptions, clusterObject, parseServiceCIDRs } from '../../../src/cli/install/join.js';
import { computeNodeConfigs } from '../../../src/clusterlink/netconfig/compute.js';
import { cluster, node } from './fixtures.js';

const workedExample = () => ({
  clusters: [
    cluster('c1', { pod: ['10.233.64.0/18'], svc: ['10.233.0.0/18'] }),
    cluster('c2', { pod: ['10.234.64.0/18'], svc: ['10.234.0.0/18'] }),
  ],
  clusterNodes: [
    node('c1', 'node1', { ip: '192.168.1.11', gateway: true, pod: ['10.233.64.0/24'] }),
    node('c2', 'node1', { ip: '192.168.2.21', gateway: true, pod: ['10.234.64.0/24'] }),
  ],
});

const serviceCIDR = (name: string, cidrs: string[], deleting = false): ServiceCIDRObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'ServiceCIDR',
  metadata: { name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { cidrs },
});

const apiserverPod = (argv: { command?: string[]; args?: string[] }): Pod => ({
  metadata: {
    name: 'kube-apiserver-cp-1',
    namespace: 'kube-system',
    labels: { component: 'kube-apiserver' },
  },
  spec: { containers: [{ name: 'kube-apiserver', ...argv }] },
});

describe('service CIDR discovery: the override, then ServiceCIDR objects, then the apiserver flag, then join --service-cidr', () => {
  const kubeadm = apiserverPod({
    command: ['kube-apiserver', '--advertise-address=10.0.0.1', '--service-cluster-ip-range=10.96.0.0/12'],
  });
  it.each<[string, ServiceCIDRInputs, string[], string]>([
    [
      'GIVEN only the default ServiceCIDR THEN its range, from the ServiceCIDR objects',
      { serviceCIDRs: [serviceCIDR('kubernetes', ['10.96.0.0/12'])] },
      ['10.96.0.0/12'],
      'ServiceCIDR',
    ],
    [
      'GIVEN a dual-stack default ServiceCIDR and one added later THEN all three ranges, the default first',
      {
        serviceCIDRs: [
          serviceCIDR('kubernetes', ['10.96.0.0/12', 'fd00:10:96::/112']),
          serviceCIDR('extra', ['10.100.0.0/24']),
        ],
      },
      ['10.96.0.0/12', 'fd00:10:96::/112', '10.100.0.0/24'],
      'ServiceCIDR',
    ],
    [
      'GIVEN a ServiceCIDR being deleted THEN it still counts: Services keep their IPs in it until it goes',
      {
        serviceCIDRs: [
          serviceCIDR('kubernetes', ['10.96.0.0/12']),
          serviceCIDR('old', ['10.200.0.0/24'], true),
        ],
      },
      ['10.96.0.0/12', '10.200.0.0/24'],
      'ServiceCIDR',
    ],
    [
      'GIVEN ServiceCIDR objects and an apiserver pod THEN the objects win (they include the flag and any range added since)',
      {
        serviceCIDRs: [serviceCIDR('kubernetes', ['10.96.0.0/12']), serviceCIDR('b', ['10.97.0.0/16'])],
        apiserverPods: [kubeadm],
      },
      ['10.96.0.0/12', '10.97.0.0/16'],
      'ServiceCIDR',
    ],
    [
      'GIVEN an apiserver that serves no ServiceCIDR and a kubeadm static pod THEN the pod command flag',
      { apiserverPods: [kubeadm] },
      ['10.96.0.0/12'],
      'apiserver',
    ],
    [
      'GIVEN the flag in args, dual-stack, with a host address THEN the network addresses of both',
      {
        apiserverPods: [
          apiserverPod({ args: ['--service-cluster-ip-range=10.96.0.5/12,fd00:10:96::1/112'] }),
        ],
      },
      ['10.96.0.0/12', 'fd00:10:96::/112'],
      'apiserver',
    ],
    [
      'GIVEN the flag and its value as two arguments THEN the value',
      {
        apiserverPods: [
          apiserverPod({ command: ['kube-apiserver', '--service-cluster-ip-range', '10.43.0.0/16'] }),
        ],
      },
      ['10.43.0.0/16'],
      'apiserver',
    ],
    [
      'GIVEN neither objects nor pods THEN the join --service-cidr value',
      { serviceCIDRs: [], apiserverPods: [], joinFlag: '172.20.0.0/16, fd00:20::/108' },
      ['172.20.0.0/16', 'fd00:20::/108'],
      'join',
    ],
    [
      'GIVEN the spec override THEN it wins over everything discovered',
      {
        override: ['10.1.0.0/16'],
        serviceCIDRs: [serviceCIDR('kubernetes', ['10.96.0.0/12'])],
        apiserverPods: [kubeadm],
        joinFlag: '172.20.0.0/16',
      },
      ['10.1.0.0/16'],
      'spec',
    ],
    [
      'GIVEN an empty override list THEN it overrides nothing',
      { override: [], serviceCIDRs: [serviceCIDR('kubernetes', ['10.96.0.0/12'])] },
      ['10.96.0.0/12'],
      'ServiceCIDR',
    ],
    [
      'GIVEN an unparsable override THEN it is kept as written, for the network manager to report',
      { override: ['10.1.0.0/40'] },
      ['10.1.0.0/40'],
      'spec',
    ],
    ['GIVEN nothing at all THEN no service CIDR and source none', {}, [], 'none'],
  ])('%s', (_name, input, cidrs, source) => {
    expect(serviceCIDRsFor(input)).toEqual({ cidrs, source });
  });

  it('GIVEN two apiserver replicas and one terminating pod THEN each range once, the terminating pod ignored', () => {
    const gone: Pod = {
      ...kubeadm,
      metadata: { ...kubeadm.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' },
    };
    const other = apiserverPod({ command: ['kube-apiserver', '--service-cluster-ip-range=10.96.0.0/12'] });
    const old = apiserverPod({ command: ['kube-apiserver', '--service-cluster-ip-range=10.50.0.0/16'] });
    expect(apiserverServiceRanges([kubeadm, other, { ...old, metadata: gone.metadata }])).toEqual([
      '10.96.0.0/12',
    ]);
  });

  it('GIVEN join --service-cidr THEN the Cluster carries it as the fallback annotation, not as the spec override', () => {
    const o: JoinOptions = {
      name: 'leaf-1',
      namespace: 'kosmos-system',
      kubeconfig: 'x',
      cni: 'calico',
      defaultNic: '*',
      networkType: 'p2p',
      ipFamily: 'ipv4',
      leafModel: 'one2cluster',
      tree: true,
      link: true,
      mcs: false,
      image: 'i',
      redisUrl: 'r',
      wait: false,
      timeoutMs: 1,
      progress: () => {},
    };
    const withFlag = clusterObject({ ...o, serviceCIDRs: ['10.96.0.0/12', 'fd00::/112'] }, []) as Cluster;
    expect(withFlag.metadata.annotations).toEqual({ 'kosmos.io/service-cidrs': '10.96.0.0/12,fd00::/112' });
    expect(withFlag.spec.clusterLinkOptions?.serviceCIDRs).toBeUndefined();
    expect(serviceCIDRsFor({ joinFlag: withFlag.metadata.annotations?.['kosmos.io/service-cidrs'] })).toEqual(
      {
        cidrs: ['10.96.0.0/12', 'fd00::/112'],
        source: 'join',
      },
    );
    expect((clusterObject(o, []) as Cluster).metadata.annotations).toBeUndefined();
  });

  it('GIVEN join --service-cidr with a non-CIDR THEN the flag error names the value', () => {
    expect(parseServiceCIDRs('10.96.0.1/12,fd00::/112')).toEqual(['10.96.0.0/12', 'fd00::/112']);
    expect(() => parseServiceCIDRs('10.96.0.0/12,10.300.0.0/16')).toThrow(
      '--service-cidr: Invalid value: "10.300.0.0/16": must be a CIDR',
    );
  });
});

describe('the network manager routes the spec override at once', () => {
  it('GIVEN a status from discovery and a newer spec.serviceCIDRs THEN the other cluster routes the override, not the status', () => {
    const base = workedExample();
    const c2 = base.clusters[1]!;
    const overridden = {
      ...c2,
      spec: {
        ...c2.spec,
        clusterLinkOptions: { ...c2.spec.clusterLinkOptions, serviceCIDRs: ['10.250.0.0/16'] },
      },
    };
    const { nodeConfigs } = computeNodeConfigs({ ...base, clusters: [base.clusters[0]!, overridden] });
    const cidrs = nodeConfigs.get('c1-node1')?.routes?.map((r) => r.cidr);
    expect(cidrs).toContain('10.250.0.0/16');
    expect(cidrs).not.toContain('10.234.0.0/18');
  });
});
