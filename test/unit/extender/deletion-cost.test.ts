import { describe, expect, it } from 'vitest';
import type { WorkloadPolicy } from '../../../src/api/kinds.js';
import {
  deletionCostChanges,
  type CostedPod,
} from '../../../src/extender/placement/replica-ratio/deletion-cost.js';

const policy: WorkloadPolicy = {
  apiVersion: 'kosmos.io/v1alpha1',
  kind: 'WorkloadPolicy',
  metadata: { name: 'split', namespace: 'wlp' },
  spec: {
    topologyKey: 'kosmos.io/cluster',
    labelSelector: { matchLabels: { app: 'split' } },
    allocationPolicy: [
      { name: 'leaf-1', replicas: 3 },
      { name: 'leaf-2', replicas: 6 },
    ],
  },
};

const pods = (n1: number, n2: number): CostedPod[] => [
  ...Array.from({ length: n1 }, (_, i) => ({
    uid: `a${i}`,
    namespace: 'wlp',
    name: `a${i}`,
    domain: 'leaf-1',
  })),
  ...Array.from({ length: n2 }, (_, i) => ({
    uid: `b${i}`,
    namespace: 'wlp',
    name: `b${i}`,
    domain: 'leaf-2',
  })),
];

/** What the ReplicaSet controller keeps when it deletes the `remove` lowest costs. */
function keptAfterScaleDown(all: CostedPod[], remove: number): Record<string, number> {
  const costs = new Map(deletionCostChanges(policy, all).map((c) => [c.name, Number(c.cost)]));
  const kept = [...all].sort((x, y) => costs.get(x.name)! - costs.get(y.name)!).slice(remove);
  const counts: Record<string, number> = {};
  for (const p of kept) counts[p.domain] = (counts[p.domain] ?? 0) + 1;
  return counts;
}

describe('pod-deletion-cost for WorkloadPolicy pods', () => {
  it.each([
    [3, { 'leaf-1': 2, 'leaf-2': 4 }],
    [6, { 'leaf-1': 1, 'leaf-2': 2 }],
    [1, { 'leaf-1': 3, 'leaf-2': 5 }],
  ])(
    'GIVEN 3:6 WHEN %i replicas are removed THEN the 1:2 ratio holds as closely as counts allow',
    (remove, kept) => {
      expect(keptAfterScaleDown(pods(3, 6), remove)).toEqual(kept);
    },
  );

  it('pods outside the policy domains go first', () => {
    const all = [...pods(3, 6), { uid: 'x', namespace: 'wlp', name: 'x', domain: 'elsewhere' }];
    expect(keptAfterScaleDown(all, 1)).toEqual({ 'leaf-1': 3, 'leaf-2': 6 });
  });

  it('changes only the annotations that differ', () => {
    const all = pods(3, 6);
    const first = deletionCostChanges(policy, all);
    expect(first).toHaveLength(9);
    const annotated = all.map((p) => ({ ...p, deletionCost: first.find((c) => c.name === p.name)!.cost }));
    expect(deletionCostChanges(policy, annotated)).toEqual([]);
  });
});
