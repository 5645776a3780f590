import { describe, expect, it } from 'vitest';
import { parseLabConfig } from '../../../src/clusterlink/lab/config.js';
import { checkTargets, globalIP, planLab } from '../../../src/clusterlink/lab/topology.js';

const file = `
clusters:
  - name: c1
    networkType: p2p
    ipFamily: ipv4
    podCIDRs: [10.233.64.0/18]
    serviceCIDRs: [10.233.0.0/18]
    globalCIDRsMap: {}
    nodes:
      - {name: n1, podCIDRs: [10.233.64.0/24]}
      - {name: n2, podCIDRs: [10.233.65.0/24]}
  - name: c2
    networkType: gateway
    ipFamily: all
    podCIDRs: [10.233.64.0/18, fd00:2::/56]
    serviceCIDRs: [10.233.0.0/18]
    globalCIDRsMap: {"10.233.64.0/18": "10.100.64.0/18", "10.233.0.0/18": "10.100.0.0/18"}
    nodes:
      - {name: n1, podCIDRs: [10.233.64.0/24, "fd00:2:0:1::/64"]}
`;

describe('lab file and plan', () => {
  it('GIVEN the issue example THEN namespaces are <cluster>-<node>, pods get the first usable address and services DNAT to a pod', () => {
    const plan = planLab(parseLabConfig(file), 'kl0001', 7);
    const [c1, c2] = plan.clusters;
    expect(c1?.nodes.map((n) => [n.ns, n.podNs, n.pod[4], n.underlay[4]])).toEqual([
      ['c1-n1', 'c1-n1-pod', '10.233.64.1', '100.64.7.10'],
      ['c1-n2', 'c1-n2-pod', '10.233.65.1', '100.64.7.11'],
    ]);
    expect(c2?.nodes[0]?.pod).toEqual({ 4: '10.233.64.1', 6: 'fd00:2:0:1::1' });
    expect(c1?.service[4]).toEqual({ ip: '10.233.0.1', target: '10.233.64.1' });
    expect(plan.clusters.flatMap((c) => c.nodes).every((n) => n.rootVeth.length <= 15)).toBe(true);
  });

  it('GIVEN a mapped cluster THEN check targets use its global IPs, and only families both clusters use', () => {
    const plan = planLab(parseLabConfig(file), 'kl0001', 7);
    const targets = checkTargets(plan);
    expect(targets.filter((t) => t.src === 'c1-n1-pod').map((t) => t.ip)).toEqual([
      '10.100.64.1',
      '10.100.0.1',
    ]);
    expect(targets.filter((t) => t.src === 'c2-n1-pod').map((t) => t.ip)).toEqual([
      '10.233.64.1',
      '10.233.65.1',
      '10.233.0.1',
    ]);
    expect(globalIP('10.233.65.7', plan.clusters[1]!.config)).toBe('10.100.65.7');
  });

  it('GIVEN a bad lab file THEN every problem is reported in field-error style', () => {
    expect(() =>
      parseLabConfig(`
clusters:
  - name: C1
    networkType: mesh
    podCIDRs: [10.0.0.0/33]
    nodes: []
`),
    ).toThrow(
      [
        'lab file:',
        'clusters[0].name: Invalid value: "C1": must be a lower-case DNS label',
        'clusters[0].networkType: Unsupported value: "mesh": supported values: "p2p", "gateway"',
        'clusters[0].nodes: Required value: at least one node',
        'clusters[0].podCIDRs[0]: Invalid value: "10.0.0.0/33": prefix length must be at most 32 for an IPv4 CIDR',
      ].join('\n'),
    );
  });
});
