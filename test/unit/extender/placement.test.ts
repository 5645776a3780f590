import { describe, expect, it } from 'vitest';
import { TAINT_NODE } from '../../../src/api/constants.js';
import type { Taint, Toleration } from '../../../src/api/core.js';
import { filterPod, prioritizePod, summarise } from '../../../src/extender/placement/engine.js';
import { toPodView } from '../../../src/extender/placement/pod-view.js';
import {
  ALL,
  TERMS,
  cdp,
  dp,
  hostNode,
  kosmosE2ePolicies,
  leafNode,
  memberNode,
  pod,
  smallWorld,
} from './fixtures.js';
import type { Pod } from '../../../src/api/core.js';
import { ExtenderCache } from '../../../src/extender/cache.js';

const LEAVES = ['kosmos-leaf-1', 'kosmos-leaf-2'];
const HOSTS = ['host-1', 'host-2'];

function passed(cache: ExtenderCache, p: Pod, nodes: string[] = ALL): string[] {
  return filterPod(toPodView(p), nodes, cache).passed.sort();
}

describe('distribution policies (Kosmos e2e cases)', () => {
  const world = (): ExtenderCache => {
    const cache = smallWorld();
    for (const p of kosmosE2ePolicies()) cache.upsertDistributionPolicy(p);
    return cache;
  };
  const master: Toleration[] = [
    { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
  ];

  it.each([
    [
      'E1: pod test-name-scope/nginx goes only to leaf nodes, without declaring the kosmos toleration',
      pod('nginx', { namespace: 'test-name-scope', tolerations: master }),
      LEAVES,
    ],
    [
      'E2: pod test-name-scope/nginx-prefix-01 goes only to host nodes',
      pod('nginx-prefix-01', { namespace: 'test-name-scope', tolerations: master }),
      HOSTS,
    ],
    [
      'E3: a deployment pod labelled example-distribution-policy=nginx may use any node',
      pod('nginx-test-name-label-scope-abc12', {
        namespace: 'test-name-scope',
        labels: { 'example-distribution-policy': 'nginx' },
        tolerations: [{ key: 'kosmos.io/node', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
      }),
      ALL,
    ],
    [
      'E4: pod test-namespace-scope/cluster-nginx may use any node (cluster policy, mix)',
      pod('cluster-nginx', { namespace: 'test-namespace-scope' }),
      ALL,
    ],
  ])('%s', (_name, p, expected) => {
    expect(passed(world(), p)).toEqual([...expected].sort());
  });

  it.each([
    [
      'D1: a namePrefix match beats a label match in the same policy (host)',
      pod('nginx-prefix-02', {
        namespace: 'test-name-scope',
        labels: { 'example-distribution-policy': 'nginx' },
      }),
      HOSTS,
    ],
    [
      'D2: a pod in a policy namespace matching only the cluster policy label goes to leaves',
      pod('web-1', {
        namespace: 'test-name-scope',
        labels: { 'example-distribution-policy': 'cluster-nginx' },
      }),
      LEAVES,
    ],
    [
      'D4: cluster-nginx-prefix-1 with no namespaced policy goes to host nodes',
      pod('cluster-nginx-prefix-1', { namespace: 'other' }),
      HOSTS,
    ],
    [
      'D8: a DaemonSet pod passes every node regardless of policies',
      pod('nginx', { namespace: 'test-name-scope', ownerKind: 'DaemonSet' }),
      ALL,
    ],
  ])('%s', (_name, p, expected) => {
    expect(passed(world(), p)).toEqual([...expected].sort());
  });

  it('D3: a namespaced label match beats a cluster-scoped name match', () => {
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      dp('ns', 'team', {
        resourceSelectors: [{ labelSelector: { matchLabels: { app: 'x' } }, policyName: 'host' }],
        policyTerms: TERMS,
      }),
    );
    cache.upsertDistributionPolicy(
      cdp('cl', { resourceSelectors: [{ name: 'web', policyName: 'leaf' }], policyTerms: TERMS }),
    );
    expect(passed(cache, pod('web', { namespace: 'team', labels: { app: 'x' } }))).toEqual(HOSTS);
  });

  it('D5: matchLabels pairs are alternatives: {a:1,b:2} matches a pod labelled only a=1', () => {
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      cdp('cl', {
        resourceSelectors: [{ labelSelector: { matchLabels: { a: '1', b: '2' } }, policyName: 'leaf' }],
        policyTerms: TERMS,
      }),
    );
    expect(passed(cache, pod('p', { labels: { a: '1' } }))).toEqual(LEAVES);
  });

  it('D6: an adv term with nodeName admits only that node', () => {
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      cdp('cl', {
        resourceSelectors: [{ name: 'p', policyName: 'x' }],
        policyTerms: [{ name: 'x', nodeType: 'adv', advancedTerm: { nodeName: 'kosmos-leaf-2' } }],
      }),
    );
    expect(passed(cache, pod('p'))).toEqual(['kosmos-leaf-2']);
  });

  it('an adv term with nodeSelector admits the nodes carrying all its labels', () => {
    expect(passed(world(), pod('q', { namespace: 'test-name-scope' }))).toEqual(ALL); // no match → mix
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      cdp('cl', { resourceSelectors: [{ name: 'p', policyName: 'adv' }], policyTerms: TERMS }),
    );
    expect(passed(cache, pod('p'))).toEqual(['host-2']);
  });

  it('D7 fixed: an adv term with only tolerations selects the nodes whose taints it tolerates (Kosmos selected none)', () => {
    const cache = smallWorld();
    cache.upsertNode(hostNode('gpu-1', {}, [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }]));
    cache.upsertDistributionPolicy(
      cdp('cl', {
        resourceSelectors: [{ name: 'p', policyName: 'g' }],
        policyTerms: [
          {
            name: 'g',
            nodeType: 'adv',
            advancedTerm: { tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }] },
          },
        ],
      }),
    );
    // The term's tolerations also really work: the pod itself declares none.
    expect(passed(cache, pod('p'), [...ALL, 'gpu-1'])).toEqual(['gpu-1']);
  });

  it('D8: a selector naming a missing term means mix', () => {
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      cdp('cl', { resourceSelectors: [{ name: 'p', policyName: 'nope' }], policyTerms: TERMS }),
    );
    expect(passed(cache, pod('p'))).toEqual(ALL);
  });

  it('two namespaced policies matching at the same rank: the oldest wins whatever order the lister returns (Kosmos kept the last one)', () => {
    const older = dp(
      'b-old',
      'team',
      { resourceSelectors: [{ namePrefix: 'web', policyName: 'leaf' }], policyTerms: TERMS },
      '2024-01-01T00:00:00Z',
    );
    const newer = dp(
      'a-new',
      'team',
      { resourceSelectors: [{ namePrefix: 'web', policyName: 'host' }], policyTerms: TERMS },
      '2024-06-01T00:00:00Z',
    );
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const cache = smallWorld();
      for (const p of order) cache.upsertDistributionPolicy(p);
      expect(passed(cache, pod('web-1', { namespace: 'team' }))).toEqual(LEAVES);
    }
  });

  it('a rejected node says which policy excluded it, as unresolvable', () => {
    const d = filterPod(toPodView(pod('nginx', { namespace: 'test-name-scope' })), ALL, world());
    const r = d.rejected.find((x) => x.node === 'host-1');
    expect(r).toMatchObject({ rule: 'distribution-policy', unresolvable: true });
    expect(r?.reason).toContain('DistributionPolicy test-name-scope/kosmos-namespace-distribution-policy');
  });
});

describe('leaf taints', () => {
  const taintWorld = (t: Taint): ExtenderCache => {
    const cache = smallWorld();
    cache.upsertNode(leafNode('kosmos-leaf-3', 'leaf-3', {}, [t]));
    return cache;
  };
  it.each<[string, Taint, Toleration[], boolean]>([
    ['the standard leaf taint is tolerated without a declared toleration', { ...TAINT_NODE }, [], true],
    [
      'D9: kosmos.io/node=false:NoSchedule is tolerated too (key and effect decide)',
      { key: 'kosmos.io/node', value: 'false', effect: 'NoSchedule' },
      [],
      true,
    ],
    [
      'D10: kosmos.io/node=true:NoExecute still needs a toleration',
      { key: 'kosmos.io/node', value: 'true', effect: 'NoExecute' },
      [],
      false,
    ],
    [
      'kosmos.io/node-test=false:NoSchedule is an ordinary taint',
      { key: 'kosmos.io/node-test', value: 'false', effect: 'NoSchedule' },
      [],
      false,
    ],
    [
      'an Equal toleration on an ordinary taint works',
      { key: 'example.io/another-taint', value: 'v', effect: 'NoSchedule' },
      [{ key: 'example.io/another-taint', operator: 'Equal', value: 'v', effect: 'NoSchedule' }],
      true,
    ],
    [
      'an empty-key Exists toleration tolerates everything',
      { key: 'x', value: 'y', effect: 'NoExecute' },
      [{ operator: 'Exists' }],
      true,
    ],
    ['PreferNoSchedule never blocks', { key: 'x', value: 'y', effect: 'PreferNoSchedule' }, [], true],
  ])('%s', (_n, taint, tolerations, ok) => {
    expect(passed(taintWorld(taint), pod('p', { tolerations }), ['kosmos-leaf-3'])).toEqual(
      ok ? ['kosmos-leaf-3'] : [],
    );
  });

  it('a pod confined to host nodes does not get the free leaf toleration', () => {
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      cdp('cl', { resourceSelectors: [{ name: 'p', policyName: 'host' }], policyTerms: TERMS }),
    );
    const d = filterPod(toPodView(pod('p')), ALL, cache);
    expect(d.passed.sort()).toEqual(HOSTS);
  });

  it('untolerated taints on host nodes are reported with the Kubernetes wording', () => {
    const cache = smallWorld();
    cache.upsertNode(hostNode('tainted', {}, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]));
    const d = filterPod(toPodView(pod('p')), ['tainted'], cache);
    expect(d.rejected[0]?.reason).toBe("node(s) had taint {dedicated: db}, that the pod didn't tolerate");
  });
});

describe('volumes', () => {
  const world = (): ExtenderCache => {
    const cache = smallWorld();
    cache.upsertNode(hostNode('host-zone-a', { zone: 'a' }));
    cache.upsertPvc({
      metadata: {
        name: 'leaf-data',
        namespace: 'default',
        annotations: { 'kosmos-io/cluster-owners': 'leaf-2' },
      },
      spec: {},
    });
    cache.upsertPvc({ metadata: { name: 'host-data', namespace: 'default' }, spec: { volumeName: 'pv-a' } });
    cache.upsertPvc({ metadata: { name: 'lost', namespace: 'default' }, spec: { volumeName: 'pv-gone' } });
    cache.upsertPvc({ metadata: { name: 'unbound', namespace: 'default' }, spec: {} });
    cache.upsertPv({
      metadata: { name: 'pv-a' },
      spec: {
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
          },
        },
      },
    });
    return cache;
  };
  const nodes = [...ALL, 'host-zone-a'];
  it.each([
    ['a claim owned by leaf cluster leaf-2 pins the pod to leaf-2', ['leaf-data'], ['kosmos-leaf-2']],
    [
      'a claim bound to a host PV pins the pod to host nodes matching the PV node affinity',
      ['host-data'],
      ['host-zone-a'],
    ],
    ['an unbound claim without an owner leaves every node open', ['unbound'], nodes],
    ['a claim bound to a missing PV fits nowhere', ['lost'], []],
    ['a missing claim fits nowhere', ['nope'], []],
    ['a pod without claims may use any node', [], nodes],
  ])('%s', (_n, claims, expected) => {
    expect(passed(world(), pod('p', { claims }), nodes)).toEqual([...expected].sort());
  });

  it('a missing claim is reported like the in-tree plugin does', () => {
    const d = filterPod(toPodView(pod('p', { claims: ['pvc-test'] })), ['host-1'], world());
    expect(d.rejected[0]?.reason).toBe('persistentvolumeclaim "pvc-test" not found');
  });
});

describe('fragmented resources', () => {
  /** leaf-a: one member with 3 cpu free; leaf-b: six members with 1.5 cpu free each. */
  const world = (): ExtenderCache => {
    const cache = smallWorld();
    cache.upsertNode(leafNode('kosmos-leaf-a', 'leaf-a'));
    cache.upsertNode(leafNode('kosmos-leaf-b', 'leaf-b'));
    cache.upsertMemberNode('leaf-a', memberNode('a-1', { cpu: '4' }));
    cache.upsertMemberPod(
      'leaf-a',
      pod('busy', { nodeName: 'a-1', requests: { cpu: '1' }, phase: 'Running' }),
    );
    for (let i = 1; i <= 6; i++) {
      cache.upsertMemberNode('leaf-b', memberNode(`b-${i}`, { cpu: '2' }));
      cache.upsertMemberPod(
        'leaf-b',
        pod(`busy-${i}`, {
          uid: `busy-${i}`,
          nodeName: `b-${i}`,
          requests: { cpu: '500m' },
          phase: 'Running',
        }),
      );
    }
    return cache;
  };
  const leaves = ['kosmos-leaf-a', 'kosmos-leaf-b'];

  it('a 2-cpu pod never goes to a leaf whose six member nodes each have 1.5 cpu free, but fits the leaf with one 3-cpu node', () => {
    const d = filterPod(toPodView(pod('big', { requests: { cpu: '2' } })), leaves, world());
    expect(d.passed).toEqual(['kosmos-leaf-a']);
    expect(d.rejected).toEqual([
      {
        node: 'kosmos-leaf-b',
        rule: 'fragmented-fit',
        unresolvable: false,
        reason: 'leaf-b: no member node has 2 cpu free; largest 1500m',
      },
    ]);
  });

  it.each([
    [
      'a pod that finished frees its requests',
      (c: ExtenderCache) =>
        c.upsertMemberPod(
          'leaf-b',
          pod('busy-1', { uid: 'busy-1', nodeName: 'b-1', requests: { cpu: '500m' }, phase: 'Succeeded' }),
        ),
      true,
    ],
    [
      'a deleted pod frees its requests',
      (c: ExtenderCache) => c.deleteMemberPod('leaf-b', pod('busy-2', { uid: 'busy-2' })),
      true,
    ],
    [
      'a NotReady member node does not count',
      (c: ExtenderCache) => c.upsertMemberNode('leaf-b', memberNode('b-big', { cpu: '8' }, { ready: false })),
      false,
    ],
    [
      'an unschedulable member node does not count',
      (c: ExtenderCache) =>
        c.upsertMemberNode('leaf-b', memberNode('b-big', { cpu: '8' }, { unschedulable: true })),
      false,
    ],
    [
      'a member node with a taint the pod does not tolerate does not count',
      (c: ExtenderCache) =>
        c.upsertMemberNode(
          'leaf-b',
          memberNode('b-big', { cpu: '8' }, { taints: [{ key: 'gpu', effect: 'NoSchedule' }] }),
        ),
      false,
    ],
    [
      'a new big member node opens the leaf',
      (c: ExtenderCache) => c.upsertMemberNode('leaf-b', memberNode('b-big', { cpu: '8' })),
      true,
    ],
  ])('%s', (_n, change, fits) => {
    const cache = world();
    change(cache);
    const ok =
      filterPod(toPodView(pod('big', { requests: { cpu: '2' } })), ['kosmos-leaf-b'], cache).passed.length ===
      1;
    expect(ok).toBe(fits);
  });

  it('extended resources such as nvidia.com/gpu must fit on one member node', () => {
    const cache = world();
    cache.upsertMemberNode('leaf-b', memberNode('b-gpu', { cpu: '1', 'nvidia.com/gpu': '1' }));
    const two = filterPod(
      toPodView(pod('g', { requests: { 'nvidia.com/gpu': '2' } })),
      ['kosmos-leaf-b'],
      cache,
    );
    expect(two.rejected[0]?.reason).toBe('leaf-b: no member node has 2 nvidia.com/gpu free; largest 1');
    const one = filterPod(
      toPodView(pod('g', { requests: { 'nvidia.com/gpu': '1' } })),
      ['kosmos-leaf-b'],
      cache,
    );
    expect(one.passed).toEqual(['kosmos-leaf-b']);
  });

  it('the pod nodeSelector applies to member nodes, but keys of the virtual node itself do not', () => {
    const cache = world();
    cache.upsertMemberNode('leaf-b', memberNode('b-ssd', { cpu: '8' }, { labels: { disk: 'ssd' } }));
    const view = (sel: Record<string, string>) =>
      toPodView(pod('p', { requests: { cpu: '4' }, nodeSelector: sel }));
    expect(
      filterPod(view({ disk: 'ssd', 'kosmos.io/cluster': 'leaf-b' }), ['kosmos-leaf-b'], cache).passed,
    ).toEqual(['kosmos-leaf-b']);
    expect(filterPod(view({ disk: 'hdd' }), ['kosmos-leaf-b'], cache).rejected[0]?.reason).toContain(
      'no Ready, schedulable member node matches',
    );
  });

  it('memory and pod slots count, not only cpu', () => {
    const cache = new ExtenderCache();
    cache.upsertNode(leafNode('kosmos-leaf-m', 'leaf-m'));
    cache.upsertMemberNode('leaf-m', memberNode('m-1', { cpu: '8', memory: '2Gi', pods: '1' }));
    const mem = filterPod(toPodView(pod('p', { requests: { memory: '4Gi' } })), ['kosmos-leaf-m'], cache);
    expect(mem.rejected[0]?.reason).toBe('leaf-m: no member node has 4Gi memory free; largest 2Gi');
    cache.upsertMemberPod('leaf-m', pod('x', { nodeName: 'm-1', phase: 'Running' }));
    const slots = filterPod(toPodView(pod('p')), ['kosmos-leaf-m'], cache);
    expect(slots.rejected[0]?.reason).toBe('leaf-m: no member node has a free pod slot');
  });

  it('a reservation holds member capacity until the pod shows up in the leaf', () => {
    const cache = world();
    cache.members.setHolder('default/first', [
      { cluster: 'leaf-a', node: 'a-1', requests: { cpu: 2000, pods: 1 } },
    ]);
    expect(passed(cache, pod('second', { requests: { cpu: '2' } }), ['kosmos-leaf-a'])).toEqual([]);
    // ClusterTree created the pod in leaf-a, but the leaf's scheduler has not placed it yet:
    // it counts on no member node, so the hold must still keep the capacity.
    cache.upsertMemberPod('leaf-a', pod('first', { requests: { cpu: '2' }, phase: 'Pending' }));
    expect(cache.members.holdCount()).toBe(1);
    expect(passed(cache, pod('second', { requests: { cpu: '2' } }), ['kosmos-leaf-a'])).toEqual([]);
    // Now on a member node: the pod accounts for itself, the hold goes.
    cache.upsertMemberPod(
      'leaf-a',
      pod('first', { nodeName: 'a-1', requests: { cpu: '2' }, phase: 'Running' }),
    );
    expect(cache.members.holdCount()).toBe(0);
    expect(passed(cache, pod('second', { requests: { cpu: '1' } }), ['kosmos-leaf-a'])).toEqual([
      'kosmos-leaf-a',
    ]);
  });

  it('one2one and one2party virtual nodes only see their own member nodes', () => {
    const cache = world();
    cache.upsertCluster({
      apiVersion: 'kosmos.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name: 'leaf-b' },
      spec: {
        clusterTreeOptions: {
          leafModels: [
            { nodeSelector: { nodeName: 'b-2' } },
            { leafNodeName: 'gpu', nodeSelector: { labelSelector: { matchLabels: { pool: 'gpu' } } } },
          ],
        },
      },
    });
    cache.upsertMemberNode('leaf-b', memberNode('b-pool', { cpu: '16' }, { labels: { pool: 'gpu' } }));
    cache.upsertNode(leafNode('b-2', 'leaf-b'));
    cache.upsertNode(leafNode('kosmos-gpu-0', 'leaf-b'));
    const d = filterPod(toPodView(pod('p', { requests: { cpu: '4' } })), ['b-2', 'kosmos-gpu-0'], cache);
    expect(d.passed).toEqual(['kosmos-gpu-0']);
    expect(d.rejected[0]?.reason).toBe('leaf-b: no member node has 4 cpu free; largest 1500m');
  });

  it('a leaf whose cluster is not known yet is not blocked', () => {
    expect(passed(smallWorld(), pod('p', { requests: { cpu: '64' } }), LEAVES)).toEqual(LEAVES);
  });

  it('best fit ranks the tightest leaf first; spread ranks the emptiest first', () => {
    const cache = world();
    cache.upsertNode(leafNode('kosmos-leaf-c', 'leaf-c'));
    cache.upsertMemberNode('leaf-c', memberNode('c-1', { cpu: '32' }));
    const p = toPodView(pod('p', { requests: { cpu: '1' } }));
    const nodes = ['kosmos-leaf-a', 'kosmos-leaf-c'];
    const best = prioritizePod(p, nodes, cache, { preference: 'leaf-first', packing: 'best-fit' });
    expect(best[0]!.Score).toBeGreaterThan(best[1]!.Score);
    const spread = prioritizePod(p, nodes, cache, { preference: 'leaf-first', packing: 'spread' });
    expect(spread[1]!.Score).toBeGreaterThan(spread[0]!.Score);
  });
});

describe('scoring between host and leaf nodes', () => {
  it.each([
    ['host-first ranks host nodes above leaves', 'host-first', 'host-1'],
    ['leaf-first ranks leaves above host nodes', 'leaf-first', 'kosmos-leaf-1'],
  ] as const)('%s', (_n, preference, top) => {
    const scores = prioritizePod(toPodView(pod('p')), ['host-1', 'kosmos-leaf-1'], smallWorld(), {
      preference,
      packing: 'best-fit',
    });
    const sorted = [...scores].sort((a, b) => b.Score - a.Score);
    expect(sorted[0]?.Host).toBe(top);
    for (const s of scores) {
      expect(s.Score).toBeGreaterThanOrEqual(0);
      expect(s.Score).toBeLessThanOrEqual(10);
    }
  });

  it('capacity ranks the host node with more free cpu higher', () => {
    const cache = smallWorld({ hostCapacity: true });
    cache.upsertPod(pod('hog', { nodeName: 'host-1', requests: { cpu: '3' }, phase: 'Running' }));
    const [h1, h2] = prioritizePod(toPodView(pod('p', { requests: { cpu: '500m' } })), HOSTS, cache, {
      preference: 'capacity',
      packing: 'best-fit',
    });
    expect(h2!.Score).toBeGreaterThan(h1!.Score);
  });
});

describe('explanations', () => {
  it('summarises why no node fits, grouped by reason', () => {
    const cache = smallWorld();
    cache.upsertDistributionPolicy(
      cdp('cl', { resourceSelectors: [{ name: 'p', policyName: 'leaf' }], policyTerms: TERMS }),
    );
    const view = toPodView(pod('p'));
    const d = filterPod(view, HOSTS, cache);
    expect(summarise(view, d, 2)).toBe(
      '0/2 nodes are available for pod default/p: 2 × host node(s) excluded by ClusterDistributionPolicy cl (leaf nodes only)',
    );
  });

  it('a node the extender has not seen yet is reported, not silently passed', () => {
    const d = filterPod(toPodView(pod('p')), ['ghost'], smallWorld());
    expect(d.rejected).toEqual([
      {
        node: 'ghost',
        rule: 'unknown-node',
        unresolvable: false,
        reason: "node ghost is not in the extender's cache yet",
      },
    ]);
  });
});
