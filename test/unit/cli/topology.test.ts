import { describe, expect, it } from 'vitest';
import {
  clusterDNSIP,
  defaultTopology,
  hasRealNodes,
  nodeIP,
  parseTopology,
  realNodePodCIDR,
} from '../../../src/cli/sandbox/topology.js';

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

  it('defaults to host plus two leaves of one real node each', () => {
    const t = defaultTopology();
    expect(t.clusters.map((c) => c.nodes.map((n) => `${n.name}:${n.runtime}`))).toEqual([
      ['host-node-0:containerd'],
      ['leaf-1-node-0:containerd'],
      ['leaf-2-node-0:containerd'],
    ]);
    expect(hasRealNodes(t)).toBe(true);
  });

  it('GIVEN --real-nodes 0 THEN the default clusters are simulated only, three nodes each', () => {
    const t = defaultTopology(2, 3, 0);
    expect(t.clusters.map((c) => `${c.name}:${c.nodes.length}`)).toEqual(['host:3', 'leaf-1:3', 'leaf-2:3']);
    expect(t.clusters.flatMap((c) => c.nodes).every((n) => n.runtime === 'kwok')).toBe(true);
    expect(hasRealNodes(t)).toBe(false);
  });

  it('GIVEN real and simulated nodes in one cluster THEN their names never collide', () => {
    const t = defaultTopology(1, 2, 1);
    expect(t.clusters[1]!.nodes.map((n) => n.name)).toEqual([
      'leaf-1-node-0',
      'leaf-1-sim-0',
      'leaf-1-sim-1',
    ]);
  });

  it('GIVEN a group with runtime containerd THEN its nodes are real and carry no capacity of their own', () => {
    const t = parseTopology(`
clusters:
  - name: host
    nodes:
      - {count: 2, runtime: containerd, labels: {zone: a}}
      - {count: 3, namePrefix: sim}
`);
    const nodes = t.clusters[0]!.nodes;
    expect(nodes.map((n) => n.runtime)).toEqual(['containerd', 'containerd', 'kwok', 'kwok', 'kwok']);
    expect(nodes[0]).toMatchObject({ capacity: {}, labels: { zone: 'a' } });
    expect(nodes[2]!.capacity).toMatchObject({ cpu: '4', memory: '16Gi' });
  });

  it('gives each real node of a cluster its own /24 from the top of the cluster pod range', () => {
    const t = defaultTopology(1);
    const leaf = t.clusters[1]!;
    expect(realNodePodCIDR(leaf.index, 0)).toBe('10.35.255.0/24');
    expect(realNodePodCIDR(leaf.index, 1)).toBe('10.35.254.0/24');
    expect(leaf.podCIDR).toBe('10.34.0.0/15');
    expect(clusterDNSIP(leaf.serviceCIDR)).toBe('10.1.0.10');
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
    [
      'clusters: [{name: host, nodes: [{runtime: docker}]}]',
      'clusters[0].nodes[0].runtime: Unsupported value: "docker": supported values: "kwok", "containerd"',
    ],
    [
      'clusters: [{name: host, nodes: [{runtime: containerd, cpu: "2"}]}]',
      'clusters[0].nodes[0].cpu: Invalid value: "2": a node with runtime containerd has the capacity its kubelet finds',
    ],
    [
      'clusters: [{name: host, nodes: [{runtime: containerd, count: 17}]}]',
      'clusters[0].nodes: Invalid value: 17: at most 16 real nodes per cluster',
    ],
  ])('refuses %s naming the field and the reason', (text, message) => {
    expect(() => parseTopology(text, 'file.yaml')).toThrow(message);
  });
});
