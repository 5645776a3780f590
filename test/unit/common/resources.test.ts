/**
 * A pod's effective requests as kube-scheduler counts them, the one count the extender's
 * placement and ClusterTree's virtual-node capacity share, and which nodes are usable.
 */
import { describe, expect, it } from 'vitest';
import type { Container, Node, Pod } from '../../../src/api/core.js';
import { nodeUsable, podRequests } from '../../../src/common/resources.js';

const c = (
  name: string,
  requests?: Record<string, string>,
  limits?: Record<string, string>,
  restartPolicy?: 'Always',
): Container => ({
  name,
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  ...(restartPolicy ? { restartPolicy } : {}),
});
const pod = (
  containers: Container[],
  initContainers: Container[] = [],
  overhead?: Record<string, string>,
): Pod => ({
  metadata: { name: 'p' },
  spec: { containers, initContainers, ...(overhead ? { overhead } : {}) },
});
const Gi = 2 ** 30;
const Mi = 2 ** 20;

describe('pod requests as kube-scheduler counts them', () => {
  it.each([
    ['a pod with no requests holds only its slot', pod([c('a')]), { pods: 1 }],
    [
      'the app containers add up',
      pod([c('a', { cpu: '100m' }), c('b', { cpu: '200m', memory: '1Gi' })]),
      { cpu: 300, memory: Gi, pods: 1 },
    ],
    [
      'a one-shot init container larger than the app containers sets the peak, per resource',
      pod(
        [c('a', { cpu: '100m' }), c('b', { cpu: '200m', memory: '1Gi' })],
        [c('i', { cpu: '1', memory: '100Mi' })],
      ),
      { cpu: 1000, memory: Gi, pods: 1 },
    ],
    [
      'one-shot init containers run one at a time: the largest counts, not their sum',
      pod([c('a', { cpu: '100m' })], [c('i1', { cpu: '1' }), c('i2', { cpu: '2' })]),
      { cpu: 2000, pods: 1 },
    ],
    [
      'a sidecar (init container with restartPolicy Always) adds to the app containers',
      pod([c('a', { cpu: '100m' })], [c('s', { cpu: '300m' }, undefined, 'Always')]),
      { cpu: 400, pods: 1 },
    ],
    [
      'a one-shot init container after a sidecar runs beside it',
      pod([c('a', { cpu: '100m' })], [c('s', { cpu: '300m' }, undefined, 'Always'), c('i', { cpu: '1' })]),
      { cpu: 1300, pods: 1 },
    ],
    [
      'a one-shot init container before a sidecar does not run beside it',
      pod([c('a', { cpu: '100m' })], [c('i', { cpu: '1' }), c('s', { cpu: '300m' }, undefined, 'Always')]),
      { cpu: 1000, pods: 1 },
    ],
    [
      'the pod overhead comes on top',
      pod([c('a', { cpu: '100m' })], [c('i', { cpu: '1' })], { cpu: '50m', memory: '64Mi' }),
      { cpu: 1050, memory: 64 * Mi, pods: 1 },
    ],
    [
      'a container with limits but no requests counts its limits (the apiserver defaults requests to them)',
      pod([c('a', undefined, { cpu: '1', memory: '2Gi' })]),
      { cpu: 1000, memory: 2 * Gi, pods: 1 },
    ],
    [
      'a request wins over its limit, and a limit fills only the resources without a request',
      pod([c('a', { cpu: '250m' }, { cpu: '1', memory: '512Mi' })]),
      { cpu: 250, memory: 512 * Mi, pods: 1 },
    ],
    [
      'a limits-only init container and sidecar count their limits too',
      pod(
        [c('a', { cpu: '100m' })],
        [c('s', undefined, { cpu: '200m' }, 'Always'), c('i', undefined, { cpu: '2' })],
      ),
      { cpu: 2200, pods: 1 },
    ],
    [
      'extended resources are counted like any other',
      pod([c('a', { 'nvidia.com/gpu': '1' }), c('b', undefined, { 'nvidia.com/gpu': '2' })]),
      { 'nvidia.com/gpu': 3, pods: 1 },
    ],
  ])('%s', (_, p, want) => {
    expect(podRequests(p)).toEqual(want);
  });
});

describe('usable nodes', () => {
  const node = (ready: string, unschedulable = false): Node => ({
    metadata: { name: 'n' },
    spec: { unschedulable },
    status: { conditions: [{ type: 'Ready', status: ready as 'True' }] },
  });
  it.each([
    ['Ready and schedulable', node('True'), true],
    ['NotReady', node('False'), false],
    ['Ready state unknown', node('Unknown'), false],
    ['cordoned', node('True', true), false],
    ['without conditions', { metadata: { name: 'n' } } as Node, false],
  ])('a node %s is usable: %s', (_, n, want) => {
    expect(nodeUsable(n)).toBe(want);
  });
});
