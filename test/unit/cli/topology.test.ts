import { describe, expect, it } from 'vitest';
import { defaultTopology, nodeIP, parseTopology } from '../../../src/cli/sandbox/topology.js';

const example = `
clusters:
  - name: host
    nodes:
      - {count: 2, namePrefix: host-node, cpu: "1", memory: 2Gi}
  - name: leaf-1
    nodes:
      - {count: 6, cpu: 1500m, memory: 4Gi, pods: 110}
  - name: leaf-2
    nodes:
      - {name: big-1, cpu: "3", memory: 8Gi, labels: {topology.kubernetes.io/zone: z2}, taints: []}
      - {name: gpu-1, nvidia.com/gpu: 1, taints: [{key: gpu, value: "true", effect: NoSchedule}]}
`;

describe('sandbox topology files', () => {
  it('GIVEN the documented example THEN every node has its name, capacity, labels and taints', () => {
    const t = parseTopology(example);
    expect(t.clusters.map((c) => [c.name, c.nodes.length])).toEqual([
      ['host', 2],
      ['leaf-1', 6],
      ['leaf-2', 2],
    ]);
    expect(t.clusters[0]!.nodes.map((n) => n.name)).toEqual(['host-node-0', 'host-node-1']);
    expect(t.clusters[1]!.nodes[5]).toMatchObject({
      name: 'leaf-1-node-5',
      capacity: { cpu: '1500m', memory: '4Gi', pods: '110' },
    });
    expect(t.clusters[2]!.nodes[0]).toMatchObject({
      name: 'big-1',
      labels: { 'topology.kubernetes.io/zone': 'z2' },
      taints: [],
    });
    expect(t.clusters[2]!.nodes[1]).toMatchObject({
      capacity: { 'nvidia.com/gpu': '1' },
      taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }],
    });
  });

  it('gives every cluster disjoint pod and service CIDRs, the host first whatever the order', () => {
    const t = parseTopology('clusters: [{name: leaf-1}, {name: host}, {name: leaf-2}]');
    expect(t.clusters.map((c) => c.name)).toEqual(['host', 'leaf-1', 'leaf-2']);
    expect(new Set(t.clusters.map((c) => c.podCIDR)).size).toBe(3);
    expect(new Set(t.clusters.map((c) => c.serviceCIDR)).size).toBe(3);
  });

  it('gives every node of the sandbox its own InternalIP, from the benchmarking range', () => {
    expect(nodeIP(0, 0)).toBe('198.18.0.1');
    expect(nodeIP(1, 0)).toBe('198.18.8.1');
    expect(nodeIP(0, 1999)).toBe('198.18.7.208');
    const all = new Set<string>();
    for (let c = 0; c < 48; c++) for (const n of [0, 1, 1999]) all.add(nodeIP(c, n));
    expect(all.size).toBe(48 * 3);
    expect([...all].every((ip) => ip.startsWith('198.18.') || ip.startsWith('198.19.'))).toBe(true);
  });

  it('defaults to host plus two leaves of three nodes', () => {
    const t = defaultTopology();
    expect(t.clusters.map((c) => `${c.name}:${c.nodes.length}`)).toEqual(['host:3', 'leaf-1:3', 'leaf-2:3']);
  });

  it.each([
    ['clusters: []', 'clusters: Required value'],
    ['clusters: [{name: leaf-1}]', 'one cluster must be named "host"'],
    [
      'clusters: [{name: host, nodes: [{cpu: lots}]}]',
      'clusters[0].nodes[0].cpu: Invalid value: "lots": must be a resource quantity',
    ],
    ['clusters: [{name: host, nodes: [{count: 0}]}]', 'clusters[0].nodes[0].count: Invalid value: 0'],
    [
      'clusters: [{name: host, nodes: [{count: 1500}, {count: 600, namePrefix: b}]}]',
      'clusters[0].nodes: Invalid value: 2100: at most 2000 nodes per cluster',
    ],
    ['clusters: [{name: host, nodes: [{cpus: "2"}]}]', 'clusters[0].nodes[0].cpus: Unsupported value'],
    ['clusters: [{name: Host_1}]', 'clusters[0].name: Invalid value: "Host_1"'],
    ['clusters: [{name: host}, {name: host}]', 'clusters[1].name: Duplicate value: "host"'],
    ['clusters: [{name: host, nodes: [{name: a}, {name: a}]}]', 'Duplicate value: "a"'],
    [
      'clusters: [{name: host, nodes: [{taints: [{key: k, effect: Never}]}]}]',
      'clusters[0].nodes[0].taints[0].effect: Unsupported value: "Never"',
    ],
    ['clusters: [ {', 'not valid YAML'],
  ])('refuses %s naming the field and the reason', (text, message) => {
    expect(() => parseTopology(text, 'file.yaml')).toThrow(message);
  });
});
