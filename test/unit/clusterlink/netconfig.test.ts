import { describe, expect, it } from 'vitest';
import type { NodeConfigSpec } from '../../../src/api/kinds.js';
import { computeNodeConfigs, stableMac } from '../../../src/clusterlink/netconfig/compute.js';
import { cluster, node } from './fixtures.js';

const ZERO = '00:00:00:00:00:00';
const mac = (n: string, d: string) => stableMac(n, d);

function workedExample(c2Overrides: Parameters<typeof cluster>[1] = {}) {
  return {
    clusters: [
      cluster('c1', { networkType: 'p2p', pod: ['10.233.64.0/18'], svc: ['10.233.0.0/18'] }),
      cluster('c2', {
        networkType: 'gateway',
        pod: ['10.234.64.0/18'],
        svc: ['10.234.0.0/18'],
        ...c2Overrides,
      }),
    ],
    clusterNodes: [
      node('c1', 'node1', { ip: '192.168.1.11', gateway: true, pod: ['10.233.64.0/24'] }),
      node('c1', 'node2', { ip: '192.168.1.12', pod: ['10.233.65.0/24'] }),
      node('c2', 'node1', { ip: '192.168.2.21', gateway: true }),
      node('c2', 'node2', { ip: '192.168.2.22' }),
    ],
  };
}

const get = (m: Map<string, NodeConfigSpec>, n: string): NodeConfigSpec => {
  const s = m.get(n);
  if (!s) throw new Error(`no NodeConfig ${n}`);
  return s;
};

describe('network manager: the reference worked example (p2p c1 + gateway c2, 2 nodes each)', () => {
  const { nodeConfigs, problems } = computeNodeConfigs(workedExample());

  it('GIVEN a p2p node THEN it gets vx-bridge, routes to c2 gateway and a full bridge mesh', () => {
    expect(get(nodeConfigs, 'c1-node1')).toEqual({
      devices: [
        {
          type: 'vxlan',
          name: 'vx-bridge',
          addr: '220.168.1.11/8',
          mac: mac('c1-node1', 'vx-bridge'),
          bindDev: 'eth0',
          id: 54,
          port: 4876,
        },
      ],
      routes: [
        { cidr: '10.234.0.0/18', gw: '220.168.2.21', dev: 'vx-bridge' },
        { cidr: '10.234.64.0/18', gw: '220.168.2.21', dev: 'vx-bridge' },
      ],
      fdbs: expect.arrayContaining([
        { ip: '192.168.1.12', mac: ZERO, dev: 'vx-bridge' },
        { ip: '192.168.1.12', mac: mac('c1-node2', 'vx-bridge'), dev: 'vx-bridge' },
        { ip: '192.168.2.21', mac: ZERO, dev: 'vx-bridge' },
        { ip: '192.168.2.21', mac: mac('c2-node1', 'vx-bridge'), dev: 'vx-bridge' },
      ]),
      arps: expect.arrayContaining([
        { ip: '220.168.1.12', mac: mac('c1-node2', 'vx-bridge'), dev: 'vx-bridge' },
        { ip: '220.168.2.21', mac: mac('c2-node1', 'vx-bridge'), dev: 'vx-bridge' },
      ]),
    });
    expect(get(nodeConfigs, 'c1-node1').fdbs).toHaveLength(4);
    expect(get(nodeConfigs, 'c1-node1').arps).toHaveLength(2);
  });

  it('GIVEN the gateway of c2 THEN it has vx-local and vx-bridge, per-node routes to c1 and MASQUERADE', () => {
    const gw = get(nodeConfigs, 'c2-node1');
    expect(gw.devices?.map((d) => [d.name, d.addr, d.id, d.port])).toEqual([
      ['vx-bridge', '220.168.2.21/8', 54, 4876],
      ['vx-local', '210.168.2.21/8', 55, 4877],
    ]);
    expect(gw.routes).toEqual([
      { cidr: '10.233.0.0/18', gw: '220.168.1.11', dev: 'vx-bridge' },
      { cidr: '10.233.64.0/24', gw: '220.168.1.11', dev: 'vx-bridge' },
      { cidr: '10.233.65.0/24', gw: '220.168.1.12', dev: 'vx-bridge' },
    ]);
    expect(gw.iptables).toEqual([
      { table: 'nat', chain: 'POSTROUTING', rule: '-s 210.0.0.0/8 -o vx-bridge -j MASQUERADE' },
      { table: 'nat', chain: 'POSTROUTING', rule: '-s 220.0.0.0/8 -j MASQUERADE' },
    ]);
    expect(gw.fdbs).toHaveLength(6);
    expect(gw.arps?.map((a) => a.ip).sort()).toEqual(['210.168.2.22', '220.168.1.11', '220.168.1.12']);
  });

  it('GIVEN an internal node of c2 THEN everything remote goes via the gateway vx-local address', () => {
    expect(get(nodeConfigs, 'c2-node2')).toEqual({
      devices: [
        {
          type: 'vxlan',
          name: 'vx-local',
          addr: '210.168.2.22/8',
          mac: mac('c2-node2', 'vx-local'),
          bindDev: 'eth0',
          id: 55,
          port: 4877,
        },
      ],
      routes: [
        { cidr: '10.233.0.0/18', gw: '210.168.2.21', dev: 'vx-local' },
        { cidr: '10.233.64.0/24', gw: '210.168.2.21', dev: 'vx-local' },
        { cidr: '10.233.65.0/24', gw: '210.168.2.21', dev: 'vx-local' },
      ],
      fdbs: [
        { ip: '192.168.2.21', mac: ZERO, dev: 'vx-local' },
        { ip: '192.168.2.21', mac: mac('c2-node1', 'vx-local'), dev: 'vx-local' },
      ].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
      arps: [{ ip: '210.168.2.21', mac: mac('c2-node1', 'vx-local'), dev: 'vx-local' }],
    });
    expect(problems).toEqual([]);
  });

  it('THEN the output does not depend on list order and keeps MACs of the previous NodeConfigs', () => {
    const input = workedExample();
    const shuffled = computeNodeConfigs({
      clusters: [...input.clusters].reverse(),
      clusterNodes: [...input.clusterNodes].reverse(),
    });
    expect(JSON.stringify([...shuffled.nodeConfigs])).toBe(JSON.stringify([...nodeConfigs]));

    const previous = new Map(nodeConfigs);
    const old = get(previous, 'c1-node2');
    previous.set('c1-node2', { devices: old.devices?.map((d) => ({ ...d, mac: '02:11:22:33:44:55' })) });
    const again = computeNodeConfigs({ ...input, previous });
    expect(get(again.nodeConfigs, 'c1-node2').devices?.[0]?.mac).toBe('02:11:22:33:44:55');
    expect(get(again.nodeConfigs, 'c1-node1').arps).toContainEqual({
      ip: '220.168.1.12',
      mac: '02:11:22:33:44:55',
      dev: 'vx-bridge',
    });
  });

  it('THEN generated MACs are locally administered unicast addresses', () => {
    const first = parseInt(mac('c1-node1', 'vx-bridge').slice(0, 2), 16);
    expect(first & 0x02).toBe(0x02);
    expect(first & 0x01).toBe(0);
  });
});

describe('network manager: overlapping CIDRs', () => {
  const overlapping = () => {
    const input = workedExample({ pod: ['10.233.64.0/18'], svc: ['10.233.0.0/18'] });
    input.clusterNodes[2] = node('c2', 'node1', { ip: '192.168.2.21', gateway: true });
    return input;
  };

  it('GIVEN equal CIDRs and no global map THEN nothing is routed and both clusters report the overlap', () => {
    const { nodeConfigs, problems } = computeNodeConfigs(overlapping());
    for (const n of ['c1-node1', 'c1-node2', 'c2-node1', 'c2-node2'])
      expect(get(nodeConfigs, n).routes).toBeUndefined();
    const overlaps = problems.filter((p) => p.reason === 'OverlappingCIDRs');
    expect(new Set(overlaps.map((p) => p.cluster))).toEqual(new Set(['c1', 'c2']));
    expect(overlaps[0]?.message).toMatch(
      /overlaps .* cannot reach it: map it in spec.clusterLinkOptions.globalCIDRsMap/,
    );
  });

  it('GIVEN global maps on both sides THEN each side routes the other global CIDRs and NETMAPs its own 1:1', () => {
    const input = overlapping();
    input.clusters[0] = cluster('c1', {
      pod: ['10.233.64.0/18'],
      svc: ['10.233.0.0/18'],
      globalCIDRsMap: { '10.233.64.0/18': '10.101.64.0/18', '10.233.0.0/18': '10.101.0.0/18' },
    });
    input.clusters[1] = cluster('c2', {
      networkType: 'gateway',
      pod: ['10.233.64.0/18'],
      svc: ['10.233.0.0/18'],
      globalCIDRsMap: { '10.233.64.0/18': '10.100.64.0/18', '10.233.0.0/18': '10.100.0.0/18' },
    });
    const { nodeConfigs, problems } = computeNodeConfigs(input);
    expect(problems).toEqual([]);
    expect(get(nodeConfigs, 'c1-node2').routes).toEqual([
      { cidr: '10.100.0.0/18', gw: '220.168.2.21', dev: 'vx-bridge' },
      { cidr: '10.100.64.0/18', gw: '220.168.2.21', dev: 'vx-bridge' },
    ]);
    // p2p per-node CIDRs are translated inside the cluster map (the reference only maps exact keys).
    expect(get(nodeConfigs, 'c2-node2').routes?.map((r) => r.cidr)).toEqual([
      '10.101.0.0/18',
      '10.101.64.0/24',
      '10.101.65.0/24',
    ]);
    expect(get(nodeConfigs, 'c2-node1').iptables).toEqual(
      expect.arrayContaining([
        {
          table: 'nat',
          chain: 'PREROUTING',
          rule: '-d 10.100.64.0/18 -i vx-bridge -j NETMAP --to 10.233.64.0/18',
        },
        {
          table: 'nat',
          chain: 'POSTROUTING',
          rule: '-s 10.233.64.0/18 -o vx-bridge -j NETMAP --to 10.100.64.0/18',
        },
      ]),
    );
    expect(get(nodeConfigs, 'c1-node1').iptables).toContainEqual({
      table: 'nat',
      chain: 'PREROUTING',
      rule: '-d 10.101.0.0/18 -i vx-bridge -j NETMAP --to 10.233.0.0/18',
    });
  });

  it('GIVEN a global map whose prefix length differs THEN it is refused with a field error', () => {
    const input = workedExample({ globalCIDRsMap: { '10.234.64.0/18': '10.100.0.0/16' } });
    const { problems } = computeNodeConfigs(input);
    expect(problems).toContainEqual({
      cluster: 'c2',
      reason: 'InvalidGlobalCIDRsMap',
      message:
        'spec.clusterLinkOptions.globalCIDRsMap["10.234.64.0/18"]: Invalid value: "10.100.0.0/16": key and value must be CIDRs of the same family and prefix length (mapping is 1:1)',
    });
  });
});

describe('network manager: IPv6 and dual stack', () => {
  it('GIVEN IPv6-only p2p clusters THEN vx-bridge-6 devices (64/4866) carry v6 routes and no v4 device exists', () => {
    const { nodeConfigs, problems } = computeNodeConfigs({
      clusters: [
        cluster('a', { ipFamily: 'ipv6', pod: ['fd00:a::/56'], svc: ['fd00:a:ffff::/112'] }),
        cluster('b', { ipFamily: 'ipv6', pod: ['fd00:b::/56'], svc: ['fd00:b:ffff::/112'] }),
      ],
      clusterNodes: [
        node('a', 'n1', { ip6: '2001:db8::a1', gateway: true, pod: ['fd00:a::/64'] }),
        node('b', 'n1', { ip6: '2001:db8::b1', gateway: true, pod: ['fd00:b::/64'] }),
      ],
    });
    expect(problems).toEqual([]);
    const a = get(nodeConfigs, 'a-n1');
    expect(a.devices?.map((d) => [d.name, d.addr, d.id, d.port])).toEqual([
      ['vx-bridge-6', '9470:db8::a1/16', 64, 4866],
    ]);
    expect(a.routes).toEqual([
      { cidr: 'fd00:b::/64', gw: '9470:db8::b1', dev: 'vx-bridge-6' },
      { cidr: 'fd00:b:ffff::/112', gw: '9470:db8::b1', dev: 'vx-bridge-6' },
    ]);
    expect(a.fdbs).toContainEqual({ ip: '2001:db8::b1', mac: ZERO, dev: 'vx-bridge-6' });
  });

  it('GIVEN dual-stack gateway clusters THEN both families get devices, routes and MASQUERADE rules', () => {
    const { nodeConfigs, problems } = computeNodeConfigs({
      clusters: [
        cluster('a', {
          networkType: 'gateway',
          ipFamily: 'all',
          pod: ['10.1.0.0/16', 'fd00:1::/56'],
          svc: ['10.96.1.0/24'],
        }),
        cluster('b', {
          networkType: 'gateway',
          ipFamily: 'all',
          pod: ['10.2.0.0/16', 'fd00:2::/56'],
          svc: ['10.96.2.0/24'],
        }),
      ],
      clusterNodes: [
        node('a', 'n1', { ip: '192.168.0.1', ip6: '2001:db8::1', gateway: true }),
        node('a', 'n2', { ip: '192.168.0.2', ip6: '2001:db8::2' }),
        node('b', 'n1', { ip: '192.168.0.3', ip6: '2001:db8::3', gateway: true }),
      ],
    });
    expect(problems).toEqual([]);
    expect(get(nodeConfigs, 'a-n1').devices?.map((d) => d.name)).toEqual([
      'vx-bridge',
      'vx-bridge-6',
      'vx-local',
      'vx-local-6',
    ]);
    expect(get(nodeConfigs, 'a-n2').routes).toEqual([
      { cidr: '10.2.0.0/16', gw: '210.168.0.1', dev: 'vx-local' },
      { cidr: '10.96.2.0/24', gw: '210.168.0.1', dev: 'vx-local' },
      { cidr: 'fd00:2::/56', gw: '9480:db8::1', dev: 'vx-local-6' },
    ]);
    expect(get(nodeConfigs, 'a-n1').iptables).toContainEqual({
      table: 'nat',
      chain: 'POSTROUTING',
      rule: '-s 9480::/16 -o vx-bridge-6 -j MASQUERADE',
    });
  });

  it('GIVEN a dual-stack node without an IPv6 address THEN it gets no NodeConfig and the reason is reported', () => {
    const { nodeConfigs, problems } = computeNodeConfigs({
      clusters: [cluster('a', { ipFamily: 'all' })],
      clusterNodes: [node('a', 'n1', { ip: '192.168.0.1', gateway: true })],
    });
    expect(nodeConfigs.has('a-n1')).toBe(false);
    expect(problems).toContainEqual({
      cluster: 'a',
      node: 'a-n1',
      reason: 'InvalidNode',
      message: 'spec.ip6: Required value: cluster a uses IPv6',
    });
  });
});

describe('network manager: three clusters of mixed modes', () => {
  const input = {
    clusters: [
      cluster('p', { networkType: 'p2p', pod: ['10.1.0.0/16'], svc: ['10.96.1.0/24'] }),
      cluster('g', { networkType: 'gateway', pod: ['10.2.0.0/16'], svc: ['10.96.2.0/24'] }),
      cluster('h', { networkType: 'gateway', pod: ['10.3.0.0/16'], svc: ['10.96.3.0/24'] }),
    ],
    clusterNodes: [
      node('p', 'a', { ip: '172.16.1.1', gateway: true, pod: ['10.1.1.0/24'] }),
      node('p', 'b', { ip: '172.16.1.2', pod: ['10.1.2.0/24'] }),
      node('g', 'a', { ip: '172.16.2.1', gateway: true }),
      node('g', 'b', { ip: '172.16.2.2' }),
      node('h', 'a', { ip: '172.16.3.1' }),
      node('h', 'b', { ip: '172.16.3.2', gateway: true }),
    ],
  };
  const { nodeConfigs, problems } = computeNodeConfigs(input);

  it('THEN every cluster routes every other cluster, through its gateway where it has one', () => {
    expect(problems).toEqual([]);
    expect(get(nodeConfigs, 'h-a').routes?.map((r) => `${r.cidr} ${r.dev} ${r.gw}`)).toEqual([
      '10.1.1.0/24 vx-local 210.16.3.2',
      '10.1.2.0/24 vx-local 210.16.3.2',
      '10.2.0.0/16 vx-local 210.16.3.2',
      '10.96.1.0/24 vx-local 210.16.3.2',
      '10.96.2.0/24 vx-local 210.16.3.2',
    ]);
    expect(get(nodeConfigs, 'p-b').routes?.map((r) => `${r.cidr} ${r.gw}`)).toEqual([
      '10.2.0.0/16 220.16.2.1',
      '10.3.0.0/16 220.16.3.2',
      '10.96.2.0/24 220.16.2.1',
      '10.96.3.0/24 220.16.3.2',
    ]);
  });

  it('THEN the bridge mesh has exactly the bridge nodes (p/a, p/b, g/a, h/b) and internal nodes have no vx-bridge', () => {
    expect(
      get(nodeConfigs, 'g-a')
        .arps?.filter((a) => a.dev === 'vx-bridge')
        .map((a) => a.ip),
    ).toEqual(['220.16.1.1', '220.16.1.2', '220.16.3.2']);
    expect(get(nodeConfigs, 'g-b').devices?.map((d) => d.name)).toEqual(['vx-local']);
  });
});

describe('network manager: refusing what cannot work', () => {
  it('GIVEN two underlays with the same host bits THEN the vx-bridge address collision is reported and only the first node keeps it', () => {
    const { nodeConfigs, problems } = computeNodeConfigs({
      clusters: [cluster('a', { pod: ['10.1.0.0/16'] }), cluster('b', { pod: ['10.2.0.0/16'] })],
      clusterNodes: [
        node('a', 'n1', { ip: '10.1.2.3', gateway: true, pod: ['10.1.0.0/24'] }),
        node('b', 'n1', { ip: '11.1.2.3', gateway: true, pod: ['10.2.0.0/24'] }),
      ],
    });
    expect(get(nodeConfigs, 'a-n1').devices).toHaveLength(1);
    expect(get(nodeConfigs, 'b-n1')).toEqual({});
    expect(problems).toContainEqual(
      expect.objectContaining({ cluster: 'b', node: 'b-n1', reason: 'VtepAddressCollision' }),
    );
  });

  it('GIVEN a gateway cluster without a gateway THEN nothing routes to it and status says NoGateway', () => {
    const input = workedExample();
    input.clusterNodes[2] = node('c2', 'node1', { ip: '192.168.2.21' });
    const { nodeConfigs, problems } = computeNodeConfigs(input);
    expect(get(nodeConfigs, 'c1-node1').routes).toBeUndefined();
    expect(problems.map((p) => [p.cluster, p.reason])).toEqual([['c2', 'NoGateway']]);
  });

  it('GIVEN an unparsable pod CIDR in status THEN that entry is dropped with a field error, the rest still works', () => {
    const input = workedExample({ pod: ['10.234.64.0/18', '10.234.999.0/24'] });
    const { nodeConfigs, problems } = computeNodeConfigs(input);
    expect(problems).toContainEqual({
      cluster: 'c2',
      reason: 'InvalidCIDR',
      message:
        'status.clusterLinkStatus.podCIDRs[1]: Invalid value: "10.234.999.0/24": must be a CIDR such as 10.0.0.0/16 or fd00::/64',
    });
    expect(get(nodeConfigs, 'c1-node1').routes).toHaveLength(2);
  });

  it('GIVEN a disabled cluster THEN its nodes get no NodeConfig', () => {
    const input = workedExample();
    const c2 = input.clusters[1]!;
    c2.spec.clusterLinkOptions = { ...c2.spec.clusterLinkOptions, enable: false };
    const { nodeConfigs } = computeNodeConfigs(input);
    expect([...nodeConfigs.keys()]).toEqual(['c1-node1', 'c1-node2']);
  });
});
