import { describe, expect, it } from 'vitest';
import type { Node, Taint } from '../../../src/api/core.js';
import type { Cluster } from '../../../src/api/kinds.js';
import { planVirtualNodes } from '../../../src/clustertree/virtual-node/plan.js';
import { virtualNodeIdentity, virtualNodeStatus } from '../../../src/clustertree/virtual-node/node.js';

const member = (name: string, labels: Record<string, string> = {}): Node => ({
  metadata: { name, labels },
  status: {},
});
const members = [
  member('n0', { 'topology.kubernetes.io/zone': 'z1', pool: 'a' }),
  member('n1', { 'topology.kubernetes.io/zone': 'z1', pool: 'a' }),
  member('n2', { 'topology.kubernetes.io/zone': 'z2', pool: 'b' }),
];
const cluster = (
  leafModels?: NonNullable<Cluster['spec']['clusterTreeOptions']>['leafModels'],
  labels: Record<string, string> = {},
): Cluster => ({
  apiVersion: 'kosmos.io/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'leaf-1', labels },
  spec: { clusterTreeOptions: leafModels ? { leafModels } : {} },
});

describe('virtual nodes of a Cluster', () => {
  it('without leafModels: one node kosmos-<cluster> for every member, zone from the Cluster labels', () => {
    const [plan, ...rest] = planVirtualNodes(
      cluster(undefined, { 'topology.kubernetes.io/zone': 'zc' }),
      members,
    );
    expect(rest).toEqual([]);
    expect(plan).toMatchObject({
      name: 'kosmos-leaf-1',
      mode: 'one2cluster',
      labels: { 'kosmos.io/cluster': 'leaf-1', 'topology.kubernetes.io/zone': 'zc' },
    });
    expect(plan?.members).toHaveLength(3);
  });

  it('one2one: one node per leafModel nodeName, with that member node zone, and the leafModel labels and taints (Kosmos drops them)', () => {
    const plans = planVirtualNodes(
      cluster([
        {
          nodeSelector: { nodeName: 'n0' },
          labels: { team: 'red' },
          taints: [{ key: 'dedicated', value: 'red', effect: 'NoSchedule' }],
        },
        { nodeSelector: { nodeName: 'n2' } },
      ]),
      members,
    );
    expect(
      plans.map((p) => [p.name, p.mode, p.memberNodeName, p.labels['topology.kubernetes.io/zone']]),
    ).toEqual([
      ['n0', 'one2one', 'n0', 'z1'],
      ['n2', 'one2one', 'n2', 'z2'],
    ]);
    expect(plans[0]?.labels['team']).toBe('red');
    expect(plans[0]?.taints).toEqual([
      { key: 'kosmos.io/node', value: 'true', effect: 'NoSchedule' },
      { key: 'dedicated', value: 'red', effect: 'NoSchedule' },
    ]);
  });

  it('one2party: one node per selector leafModel, each honoured (Kosmos looks only at the first)', () => {
    const plans = planVirtualNodes(
      cluster([
        { leafNodeName: 'pool-a', nodeSelector: { labelSelector: { matchLabels: { pool: 'a' } } } },
        { leafNodeName: 'pool-b', nodeSelector: { labelSelector: { matchLabels: { pool: 'b' } } } },
      ]),
      members,
    );
    expect(
      plans.map((p) => [
        p.name,
        p.mode,
        p.members.map((m) => m.metadata?.name),
        p.labels['topology.kubernetes.io/zone'],
      ]),
    ).toEqual([
      ['kosmos-pool-a-0', 'one2party', ['n0', 'n1'], 'z1'],
      ['kosmos-pool-b-1', 'one2party', ['n2'], 'z2'],
    ]);
  });

  it('a node carries kosmos.io/node=true, its taint, the owner annotation and the mode', () => {
    const [plan] = planVirtualNodes(cluster(), members);
    const node = virtualNodeIdentity(plan!, { leafReachable: true });
    expect(node.metadata?.labels).toMatchObject({
      'kosmos.io/node': 'true',
      'kosmos.io/cluster': 'leaf-1',
      'kubernetes.io/hostname': 'kosmos-leaf-1',
    });
    expect(node.metadata?.annotations).toEqual({
      'kosmos-io/owned-by-cluster': 'leaf-1',
      leafNodeMode: 'one2cluster',
      'kosmos.io/kosmos-taints': 'kosmos.io/node:NoSchedule',
    });
    expect(node.spec?.taints).toEqual([{ key: 'kosmos.io/node', value: 'true', effect: 'NoSchedule' }]);
  });
});

describe('virtual node status', () => {
  const input = {
    allocatable: { cpu: '4' },
    now: '2026-01-01T00:01:00Z',
    kubeletVersion: 'v1.36.3',
    address: '127.0.0.1',
    port: 10250,
  };
  it('is Ready while the leaf answers, and its kubelet endpoint is the node server', () => {
    const s = virtualNodeStatus({ ...input, leafReachable: true });
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastHeartbeatTime: input.now,
    });
    expect(s.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(s.capacity).toEqual({ cpu: '4' });
  });

  it('GIVEN the leaf stops answering THEN the node stays Ready (no eviction) and LeafClusterUnreachable turns True, transition times kept across heartbeats', () => {
    const before = virtualNodeStatus({ ...input, leafReachable: true, now: '2026-01-01T00:00:00Z' });
    const down = virtualNodeStatus({ ...input, leafReachable: false, previous: before.conditions });
    const cond = (s: typeof down, type: string) => s.conditions?.find((c) => c.type === type);
    expect(cond(down, 'Ready')).toMatchObject({
      status: 'True',
      lastHeartbeatTime: input.now,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    expect(cond(down, 'LeafClusterUnreachable')).toMatchObject({
      status: 'True',
      reason: 'LeafApiserverUnreachable',
      lastTransitionTime: input.now,
    });
    expect(cond(down, 'MemoryPressure')?.status).toBe('False');
    const back = virtualNodeStatus({
      ...input,
      leafReachable: true,
      now: '2026-01-01T00:02:00Z',
      previous: down.conditions,
    });
    expect(cond(back, 'LeafClusterUnreachable')).toMatchObject({
      status: 'False',
      lastTransitionTime: '2026-01-01T00:02:00Z',
    });
    expect(cond(back, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });

  it('GIVEN a node an earlier version turned NotReady for an outage WHEN the outage goes on THEN it is Ready again', () => {
    const legacy = [
      {
        type: 'Ready',
        status: 'False' as const,
        reason: 'LeafClusterUnreachable',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ];
    const down = virtualNodeStatus({ ...input, leafReachable: false, previous: legacy });
    expect(down.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('GIVEN a one2one member node THEN the virtual node shows its conditions, with its transition times and our heartbeat', () => {
    const member: Node = {
      metadata: { name: 'n0' },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'KubeletNotReady',
            message: 'PLEG is not healthy',
            lastHeartbeatTime: '2025-12-31T23:00:00Z',
            lastTransitionTime: '2025-12-31T22:00:00Z',
          },
          { type: 'GPUHealthy', status: 'True', reason: 'DriverLoaded' },
        ],
      },
    };
    const s = virtualNodeStatus({ ...input, leafReachable: true, member });
    expect(s.conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'KubeletNotReady',
        message: 'PLEG is not healthy',
        lastHeartbeatTime: input.now,
        lastTransitionTime: '2025-12-31T22:00:00Z',
      },
      {
        type: 'GPUHealthy',
        status: 'True',
        reason: 'DriverLoaded',
        lastHeartbeatTime: input.now,
        lastTransitionTime: input.now,
      },
      expect.objectContaining({ type: 'LeafClusterUnreachable', status: 'False' }),
    ]);
    // During an outage the member's last conditions stay as they were.
    const down = virtualNodeStatus({ ...input, leafReachable: false, previous: s.conditions });
    expect(down.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'False'],
      ['GPUHealthy', 'True'],
      ['MemoryPressure', 'False'],
      ['DiskPressure', 'False'],
      ['PIDPressure', 'False'],
      ['NetworkUnavailable', 'False'],
      ['LeafClusterUnreachable', 'True'],
    ]);
  });
});

describe('virtual node taints', () => {
  const [plan] = planVirtualNodes(
    cluster([{ leafNodeName: 'a', taints: [{ key: 'dedicated', value: 'red', effect: 'NoSchedule' }] }]),
    members,
  );
  const kosmos = { key: 'kosmos.io/node', value: 'true', effect: 'NoSchedule' as const };
  const dedicated = { key: 'dedicated', value: 'red', effect: 'NoSchedule' as const };
  const admin = { key: 'admin/test', value: 'x', effect: 'NoSchedule' as const };
  const notReady = {
    key: 'node.kubernetes.io/not-ready',
    effect: 'NoExecute' as const,
    timeAdded: '2026-01-01T00:00:00Z',
  };
  const node = (taints: Taint[], record?: string): Node => ({
    metadata: {
      name: 'kosmos-a',
      ...(record !== undefined ? { annotations: { 'kosmos.io/kosmos-taints': record } } : {}),
    },
    spec: { taints },
  });
  const taints = (current: Node | undefined, leafReachable = true) =>
    virtualNodeIdentity(plan!, { leafReachable, ...(current ? { current } : {}) }).spec?.taints;

  it.each([
    [
      'GIVEN a new node THEN it has kosmos.io/node and the leafModel taints',
      undefined,
      true,
      [kosmos, dedicated],
    ],
    [
      'GIVEN an admin added a taint (kubectl taint) THEN it stays, after ours',
      node([kosmos, dedicated, admin], 'kosmos.io/node:NoSchedule,dedicated:NoSchedule'),
      true,
      [kosmos, dedicated, admin],
    ],
    [
      "GIVEN the node lifecycle controller's NoExecute taint THEN it stays untouched, timeAdded included",
      node([notReady, kosmos], 'kosmos.io/node:NoSchedule'),
      true,
      [kosmos, dedicated, notReady],
    ],
    [
      'GIVEN a taint we set that the leafModel no longer has THEN it goes',
      node(
        [kosmos, { key: 'old', effect: 'NoExecute' as const }, admin],
        'kosmos.io/node:NoSchedule,old:NoExecute',
      ),
      true,
      [kosmos, dedicated, admin],
    ],
    [
      'GIVEN a leafModel taint whose value an admin changed THEN ours wins',
      node([kosmos, { ...dedicated, value: 'blue' }], 'kosmos.io/node:NoSchedule,dedicated:NoSchedule'),
      true,
      [kosmos, dedicated],
    ],
    [
      'GIVEN a node from before the record existed THEN every taint but ours now is kept',
      node([kosmos, admin]),
      true,
      [kosmos, dedicated, admin],
    ],
    [
      'GIVEN the leaf does not answer THEN kosmos.io/leaf-unreachable:NoSchedule is added',
      node([kosmos, dedicated, admin], 'kosmos.io/node:NoSchedule,dedicated:NoSchedule'),
      false,
      [kosmos, dedicated, { key: 'kosmos.io/leaf-unreachable', effect: 'NoSchedule' }, admin],
    ],
    [
      'GIVEN the leaf answers again THEN kosmos.io/leaf-unreachable goes and the admin taint stays',
      node(
        [kosmos, dedicated, { key: 'kosmos.io/leaf-unreachable', effect: 'NoSchedule' as const }, admin],
        'kosmos.io/node:NoSchedule,dedicated:NoSchedule,kosmos.io/leaf-unreachable:NoSchedule',
      ),
      true,
      [kosmos, dedicated, admin],
    ],
  ])('%s', (_name, current, reachable, want) => {
    expect(taints(current, reachable)).toEqual(want);
  });

  it('GIVEN the leaf does not answer THEN the record names the outage taint too', () => {
    expect(
      virtualNodeIdentity(plan!, { leafReachable: false }).metadata?.annotations?.['kosmos.io/kosmos-taints'],
    ).toBe('kosmos.io/node:NoSchedule,dedicated:NoSchedule,kosmos.io/leaf-unreachable:NoSchedule');
  });
});

describe('one2one virtual nodes mirror their member node', () => {
  const gpu: Node = {
    metadata: {
      name: 'n0',
      labels: {
        'nvidia.com/gpu.product': 'A100',
        'kubernetes.io/arch': 'arm64',
        'kubernetes.io/hostname': 'n0',
        'node-role.kubernetes.io/control-plane': '',
        'node-role.kubernetes.io/worker': '',
        'kosmos.io/cluster': 'somewhere-else',
      },
      annotations: {
        'example.com/rack': 'r12',
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'csi.volume.kubernetes.io/nodeid': '{"ebs.csi.aws.com":"i-1"}',
        'flannel.alpha.coreos.com/public-ip': '10.0.0.1',
        'kwok.x-k8s.io/node': 'fake',
        'kosmos-io/owned-by-cluster': 'other',
      },
    },
  };
  const [one] = planVirtualNodes(cluster([{ nodeSelector: { nodeName: 'n0' }, labels: { team: 'red' } }]), [
    gpu,
  ]);

  it("GIVEN a member's labels THEN the virtual node has them, except node-role.kubernetes.io/* and kubernetes.io/hostname, and Kosmos' own keys win", () => {
    const n = virtualNodeIdentity(one!, { leafReachable: true, member: gpu });
    expect(n.metadata?.labels).toEqual({
      'nvidia.com/gpu.product': 'A100',
      'kubernetes.io/arch': 'arm64',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': 'n0',
      'kubernetes.io/role': 'agent',
      'kosmos.io/node': 'true',
      'kosmos.io/cluster': 'leaf-1',
      team: 'red',
    });
  });

  it("GIVEN a member's annotations THEN the virtual node has them, except those of the member's own agents (ttl, attach/detach, CSI, CNI, kwok)", () => {
    const n = virtualNodeIdentity(one!, { leafReachable: true, member: gpu });
    expect(n.metadata?.annotations).toEqual({
      'example.com/rack': 'r12',
      'kosmos-io/owned-by-cluster': 'leaf-1',
      leafNodeMode: 'one2one',
      'kosmos.io/kosmos-taints': 'kosmos.io/node:NoSchedule',
    });
  });

  it('GIVEN an aggregated (one2cluster) node THEN no member is mirrored', () => {
    const [agg] = planVirtualNodes(cluster(), [gpu]);
    const n = virtualNodeIdentity(agg!, { leafReachable: true, member: gpu });
    expect(n.metadata?.labels?.['nvidia.com/gpu.product']).toBeUndefined();
  });
});
