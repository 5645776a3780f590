import { describe, expect, it } from 'vitest';
import type { Node, Pod } from '../../../src/api/core.js';
import { largestFree, memberFree, virtualNodeCapacity } from '../../../src/clustertree/capacity/capacity.js';

const node = (
  name: string,
  cpu: string,
  memory: string,
  opts: { ready?: boolean; unschedulable?: boolean; labels?: Record<string, string> } = {},
): Node => ({
  metadata: { name, labels: opts.labels ?? {} },
  spec: { unschedulable: opts.unschedulable ?? false },
  status: {
    allocatable: { cpu, memory, pods: '110' },
    conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
  },
});

const pod = (
  nodeName: string,
  cpu: string,
  memory: string,
  opts: { kosmos?: boolean; phase?: 'Running' | 'Pending' | 'Succeeded' } = {},
): Pod => ({
  metadata: { name: `p-${Math.random()}`, labels: opts.kosmos ? { 'kosmos-io/pod': 'true' } : {} },
  spec: { nodeName, containers: [{ name: 'c', resources: { requests: { cpu, memory } } }] },
  status: { phase: opts.phase ?? 'Running' },
});

describe('virtual node capacity', () => {
  it.each([
    [
      'sums the allocatable of Ready, schedulable members',
      [node('a', '4', '8Gi'), node('b', '2', '4Gi')],
      [],
      { cpu: '6', memory: '12Gi', pods: '220' },
    ],
    [
      'ignores NotReady and cordoned members',
      [
        node('a', '4', '8Gi'),
        node('b', '2', '4Gi', { ready: false }),
        node('c', '2', '4Gi', { unschedulable: true }),
      ],
      [],
      { cpu: '4', memory: '8Gi', pods: '110' },
    ],
    [
      'subtracts requests of pods Kosmos did not place',
      [node('a', '4', '8Gi')],
      [pod('a', '1500m', '1Gi')],
      { cpu: '2500m', memory: '7Gi', pods: '109' },
    ],
    [
      'does not subtract Kosmos pods twice (the host scheduler counts them)',
      [node('a', '4', '8Gi')],
      [pod('a', '1', '1Gi', { kosmos: true })],
      { cpu: '4', memory: '8Gi', pods: '110' },
    ],
    [
      'counts bound Pending pods and ignores finished ones',
      [node('a', '4', '8Gi')],
      [pod('a', '1', '1Gi', { phase: 'Pending' }), pod('a', '2', '1Gi', { phase: 'Succeeded' })],
      { cpu: '3', memory: '7Gi', pods: '109' },
    ],
    [
      'a party is not shrunk by pods of nodes outside it (Kosmos subtracts them)',
      [node('a', '4', '8Gi')],
      [pod('outside', '3', '1Gi')],
      { cpu: '4', memory: '8Gi', pods: '110' },
    ],
  ])('%s', (_name, members, pods, expected) => {
    expect(virtualNodeCapacity(members, pods).allocatable).toEqual(expected);
  });
});

describe('virtual node capacity and the extender count a pod alike', () => {
  // A container with limits only (the apiserver defaults its requests to them): ClusterTree
  // used to count it as nothing, so the virtual node offered more than the extender's
  // fragmented-fit index (common/resources.ts podRequests) said was free.
  const limitsOnly = (nodeName: string): Pod => ({
    metadata: { name: 'limits-only' },
    spec: { nodeName, containers: [{ name: 'c', resources: { limits: { cpu: '1', memory: '2Gi' } } }] },
    status: { phase: 'Running' },
  });

  it('GIVEN a member pod with limits but no requests THEN the virtual node loses its limits and a pod slot', () => {
    expect(virtualNodeCapacity([node('a', '4', '8Gi')], [limitsOnly('a')]).allocatable).toEqual({
      cpu: '3',
      memory: '6Gi',
      pods: '109',
    });
  });

  it('GIVEN a member pod with limits but no requests THEN its member node has that much less free', () => {
    expect(memberFree([node('a', '4', '8Gi')], [limitsOnly('a')]).get('a')).toMatchObject({
      requested: { cpu: '1', memory: '2Gi', pods: '1' },
      free: { cpu: '3', memory: '6Gi', pods: '109' },
    });
  });
});

describe('per-member-node free resources (the fit index)', () => {
  it('gives each member its free resources, counting every pod on it, and the largest free per resource', () => {
    const entries = memberFree(
      [
        node('a', '4', '8Gi', { labels: { zone: 'z1' } }),
        node('b', '2', '4Gi'),
        node('c', '8', '16Gi', { ready: false }),
      ],
      [pod('a', '1', '1Gi', { kosmos: true }), pod('a', '500m', '1Gi'), pod('b', '1', '3Gi')],
    );
    expect(entries.get('a')).toMatchObject({
      free: { cpu: '2500m', memory: '6Gi', pods: '108' },
      requested: { cpu: '1500m', memory: '2Gi', pods: '2' },
      labels: { zone: 'z1' },
      ready: true,
      schedulable: true,
    });
    expect(entries.get('c')?.ready).toBe(false);
    // The NotReady node's 8 cpu is not free for anyone.
    expect(largestFree(entries.values())).toEqual({ cpu: '2500m', memory: '6Gi', pods: '109' });
  });
});
