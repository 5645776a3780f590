import { describe, expect, it } from 'vitest';
import type { WorkloadPolicySpec } from '../../../src/api/kinds.js';
import { ExtenderCache } from '../../../src/extender/cache.js';
import { decideFilter } from '../../../src/extender/decide.js';
import { filterPod } from '../../../src/extender/placement/engine.js';
import { toPodView } from '../../../src/extender/placement/pod-view.js';
import { planDomains, WLP_FULL } from '../../../src/extender/placement/replica-ratio/index.js';
import { deletionOrder } from '../../../src/extender/placement/replica-ratio/deletion-order.js';
import { MemoryReservationStore } from '../../../src/extender/reservations/memory-store.js';
import type { ReservationStore } from '../../../src/extender/reservations/store.js';
import { WLP_LABEL, hostNode, leafNode, pod, wlp } from './fixtures.js';

const ZONES = wlp('zones', 'default', {
  topologyKey: 'zone',
  labelSelector: { matchLabels: { app: 'web' } },
  allocationPolicy: [
    { name: 'zone1', replicas: 2 },
    { name: 'zone2', replicas: 3 },
    { name: 'zone4', replicas: 4 },
  ],
  allocationType: 'Required',
});

describe('WorkloadPolicy domain choice (Kosmos CheckTopologyValueReached table)', () => {
  const counts = new Map([
    ['zone1', 1],
    ['zone2', 3],
  ]);
  it.each([
    ['zone1 (1 of 2) is open', 'zone1', false],
    ['zone2 (3 of 3) is full under Required', 'zone2', true],
    ['zone4 (0 of 4) is open', 'zone4', false],
  ])('%s', (_n, zone, closed) => {
    const plan = planDomains(ZONES, new Set([zone]), counts);
    expect(plan.closed.has(zone)).toBe(closed);
    if (closed) expect(plan.closed.get(zone)?.reason).toContain(WLP_FULL);
  });

  it('zone3 is not in the policy: nodes there do not match the policy', () => {
    const cache = new ExtenderCache();
    cache.upsertWorkloadPolicy(ZONES);
    cache.upsertNode(hostNode('n3', { zone: 'zone3' }));
    cache.upsertNode(hostNode('nx'));
    const d = filterPod(
      toPodView(pod('p', { labels: { app: 'web', [WLP_LABEL]: 'zones' } })),
      ['n3', 'nx'],
      cache,
    );
    expect(d.passed).toEqual([]);
    expect(d.rejected.map((r) => [r.node, r.reason, r.unresolvable])).toEqual([
      ['n3', "node(s) didn't match pod workload-policy constraints (not match value)", false],
      ['nx', "node(s) didn't match pod workload-policy constraints (missing required label)", true],
    ]);
  });

  it('Balance keeps count/replicas level; Fill fills domains in policy order', () => {
    const all = new Set(['zone1', 'zone2', 'zone4']);
    expect(planDomains(ZONES, all, new Map([['zone1', 1]])).target).toBe('zone2');
    expect(
      planDomains(
        { ...ZONES, spec: { ...ZONES.spec, allocationMethod: 'Fill' } },
        all,
        new Map([['zone1', 1]]),
      ).target,
    ).toBe('zone1');
  });

  it('Preferred lets replicas beyond the counts go to any domain', () => {
    const spec: WorkloadPolicySpec = { ...ZONES.spec, allocationType: 'Preferred' };
    const plan = planDomains(
      { ...ZONES, spec },
      new Set(['zone1', 'zone2']),
      new Map([
        ['zone1', 2],
        ['zone2', 3],
      ]),
    );
    expect(plan.target).toBeUndefined();
    expect(plan.closed.size).toBe(0);
  });

  it('only same-namespace, label-matching, bound, non-terminating pods are counted', () => {
    const cache = new ExtenderCache();
    cache.upsertWorkloadPolicy(ZONES);
    cache.upsertNode(hostNode('z1', { zone: 'zone1' }));
    cache.upsertPod(pod('a', { labels: { app: 'web' }, nodeName: 'z1', phase: 'Running' }));
    cache.upsertPod(pod('b', { labels: { app: 'db' }, nodeName: 'z1', phase: 'Running' }));
    cache.upsertPod(
      pod('c', { namespace: 'other', labels: { app: 'web' }, nodeName: 'z1', phase: 'Running' }),
    );
    cache.upsertPod(pod('d', { labels: { app: 'web' }, phase: 'Pending' }));
    cache.upsertPod(pod('e', { labels: { app: 'web' }, nodeName: 'z1', phase: 'Succeeded' }));
    expect(cache.workloadCounts(ZONES, 'x')).toEqual(new Map([['zone1', 1]]));
  });

  it('a pod without the policy it names waits (resolvable) and says so', () => {
    const cache = new ExtenderCache();
    cache.upsertNode(hostNode('z1', { zone: 'zone1' }));
    const d = filterPod(toPodView(pod('p', { labels: { [WLP_LABEL]: 'missing' } })), ['z1'], cache);
    expect(d.rejected[0]).toMatchObject({
      reason: 'workload policy default/missing not found',
      unresolvable: false,
    });
  });
});

/**
 * Simulates kube-scheduler under a burst: each pod is filtered (reserving its domain), the
 * scheduler picks one of the passed nodes, and binds only land after the whole burst, so
 * no decision can see an earlier pod bound. Returns the final count per cluster.
 */
async function burst(
  cache: ExtenderCache,
  store: ReservationStore,
  names: string[],
  n: number,
  first = 0,
): Promise<Map<string, number>> {
  const placed: { p: ReturnType<typeof pod>; node: string }[] = [];
  for (let i = first; i < first + n; i++) {
    const p = pod(`web-${i}`, { labels: { app: 'web', [WLP_LABEL]: 'split' } });
    cache.upsertPod(p);
    const d = await decideFilter(toPodView(p), names, { cache, store, reservationTtlMs: 30_000 });
    expect(d.passed.length).toBeGreaterThan(0);
    // The scheduler's own scores may prefer any node it was given: take the last one.
    placed.push({ p, node: d.passed[d.passed.length - 1] as string });
  }
  for (const { p, node } of placed)
    cache.upsertPod({ ...p, spec: { ...p.spec, nodeName: node }, status: { phase: 'Running' } });
  const counts = new Map<string, number>();
  for (const { node } of placed) {
    const c = cache.node(node)?.cluster ?? '?';
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return counts;
}

function clusterWorld(spec: WorkloadPolicySpec): { cache: ExtenderCache; names: string[] } {
  const cache = new ExtenderCache();
  const names: string[] = [];
  for (const c of ['leaf-1', 'leaf-2', 'leaf-3']) {
    for (let i = 0; i < 3; i++) {
      cache.upsertNode(leafNode(`kosmos-${c}-${i}`, c));
      names.push(`kosmos-${c}-${i}`);
    }
  }
  cache.upsertWorkloadPolicy(wlp('split', 'default', spec));
  return { cache, names };
}

describe('exact per-cluster replica counts under a burst', () => {
  const base = { topologyKey: 'kosmos.io/cluster', labelSelector: { matchLabels: { app: 'web' } } };

  it.each(['Required', 'Preferred'] as const)(
    'a Deployment of 9 replicas with leaf-1: 3, leaf-2: 6 ends with exactly 3 and 6 (%s)',
    async (allocationType) => {
      const { cache, names } = clusterWorld({
        ...base,
        allocationType,
        allocationPolicy: [
          { name: 'leaf-1', replicas: 3 },
          { name: 'leaf-2', replicas: 6 },
        ],
      });
      const counts = await burst(cache, new MemoryReservationStore(), names, 9);
      expect(Object.fromEntries(counts)).toEqual({ 'leaf-1': 3, 'leaf-2': 6 });
    },
  );

  it('a 10th replica under Required fits nowhere, and the reason says the counts are reached', async () => {
    const { cache, names } = clusterWorld({
      ...base,
      allocationType: 'Required',
      allocationPolicy: [
        { name: 'leaf-1', replicas: 3 },
        { name: 'leaf-2', replicas: 6 },
      ],
    });
    const store = new MemoryReservationStore();
    await burst(cache, store, names, 9);
    const d = await decideFilter(
      toPodView(pod('web-x', { labels: { app: 'web', [WLP_LABEL]: 'split' } })),
      names,
      { cache, store, reservationTtlMs: 30_000 },
    );
    expect(d.passed).toEqual([]);
    expect(d.rejected.find((r) => r.node === 'kosmos-leaf-1-0')?.reason).toContain('leaf-1 3/3, leaf-2 6/6');
  });

  it('weights 1:2 split a burst of 9 as 3:6 and keep the ratio when scaled to 12', async () => {
    const { cache, names } = clusterWorld({
      ...base,
      allocationPolicy: [
        { name: 'leaf-1', weight: 1 },
        { name: 'leaf-2', weight: 2 },
      ],
    });
    const store = new MemoryReservationStore();
    expect(Object.fromEntries(await burst(cache, store, names, 9))).toEqual({ 'leaf-1': 3, 'leaf-2': 6 });
    expect(Object.fromEntries(await burst(cache, store, names, 3, 9))).toEqual({ 'leaf-1': 1, 'leaf-2': 2 });
    expect(
      Object.fromEntries(cache.workloadCounts(cache.workloadPolicy('default', 'split')!, 'none')),
    ).toEqual({ 'leaf-1': 4, 'leaf-2': 8 });
  });

  it('after a scale-down the next replicas refill the domain that lost pods', async () => {
    const { cache, names } = clusterWorld({
      ...base,
      allocationPolicy: [
        { name: 'leaf-1', weight: 1 },
        { name: 'leaf-2', weight: 1 },
      ],
    });
    const store = new MemoryReservationStore();
    await burst(cache, store, names, 4);
    // The ReplicaSet controller removed both leaf-1 replicas.
    for (const [uid, domain] of [...(await store.snapshot('default/split')).entries].map(
      (e) => [e.uid, e.domain] as const,
    )) {
      if (domain === 'leaf-1') {
        const slim = [...Array(4).keys()]
          .map((i) => cache.pod('default', `web-${i}`))
          .find((s) => s?.uid === uid);
        if (slim)
          cache.deletePod({
            metadata: { uid, namespace: 'default', name: slim.name },
            spec: { containers: [] },
          });
        await store.release('default/split', uid);
      }
    }
    expect(Object.fromEntries(await burst(cache, store, names, 2, 4))).toEqual({ 'leaf-1': 2 });
  });

  it('a filter retried for the same pod does not count it twice', async () => {
    const { cache, names } = clusterWorld({
      ...base,
      allocationType: 'Required',
      allocationPolicy: [
        { name: 'leaf-1', replicas: 1 },
        { name: 'leaf-2', replicas: 1 },
      ],
    });
    const store = new MemoryReservationStore();
    const p = toPodView(pod('web-0', { labels: { app: 'web', [WLP_LABEL]: 'split' } }));
    const first = await decideFilter(p, names, { cache, store, reservationTtlMs: 30_000 });
    const again = await decideFilter(p, names, { cache, store, reservationTtlMs: 30_000 });
    expect(again.reserve?.domain).toBe(first.reserve?.domain);
    expect((await store.snapshot('default/split')).entries).toHaveLength(1);
  });

  it('a reservation whose pod was never bound stops counting after its TTL', async () => {
    let now = 1_000;
    const store = new MemoryReservationStore(() => now);
    const { cache, names } = clusterWorld({
      ...base,
      allocationType: 'Required',
      allocationPolicy: [{ name: 'leaf-1', replicas: 1 }],
    });
    const d1 = await decideFilter(
      toPodView(pod('a', { labels: { app: 'web', [WLP_LABEL]: 'split' } })),
      names,
      { cache, store, reservationTtlMs: 5_000 },
    );
    expect(d1.reserve?.domain).toBe('leaf-1');
    const d2 = await decideFilter(
      toPodView(pod('b', { labels: { app: 'web', [WLP_LABEL]: 'split' } })),
      names,
      { cache, store, reservationTtlMs: 5_000 },
    );
    expect(d2.passed).toEqual([]);
    now += 5_001;
    const d3 = await decideFilter(
      toPodView(pod('b', { labels: { app: 'web', [WLP_LABEL]: 'split' } })),
      names,
      { cache, store, reservationTtlMs: 5_000 },
    );
    expect(d3.reserve?.domain).toBe('leaf-1');
  });
});

describe('scale-down order that keeps the ratio', () => {
  const policy = wlp('split', 'default', {
    topologyKey: 'kosmos.io/cluster',
    labelSelector: { matchLabels: { app: 'web' } },
    allocationPolicy: [
      { name: 'leaf-1', weight: 1 },
      { name: 'leaf-2', weight: 2 },
    ],
  });
  const pods = [
    ...[0, 1, 2].map((i) => ({ uid: `a${i}`, domain: 'leaf-1' })),
    ...[0, 1, 2, 3, 4, 5].map((i) => ({ uid: `b${i}`, domain: 'leaf-2' })),
    { uid: 'stray', domain: 'leaf-9' },
  ];

  it.each([
    [9, { 'leaf-1': 3, 'leaf-2': 6 }],
    [6, { 'leaf-1': 2, 'leaf-2': 4 }],
    [3, { 'leaf-1': 1, 'leaf-2': 2 }],
  ])('scaling 9 (+1 outside the policy) down to %d leaves counts at the ratio: %o', (keep, expected) => {
    const order = deletionOrder(policy, pods);
    const survivors = pods.filter((p) => (order.get(p.uid) as number) >= pods.length - keep);
    const counts: Record<string, number> = {};
    for (const p of survivors) counts[p.domain] = (counts[p.domain] ?? 0) + 1;
    expect(counts).toEqual(expected);
    expect(order.get('stray')).toBe(0); // a pod outside the policy goes first
  });
});
