/**
 * The member hold of a pod bound to a leaf must outlive a slow Binding: the filter's hold is
 * tentative (10 s), and the chosen leaf's hold has to be extended before the apiserver is
 * asked, not after it answers.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createExtenderApp } from '../../../src/extender/app.js';
import type { PodBinder, PodRef } from '../../../src/extender/kube-adapters.js';
import { MemoryHoldStore } from '../../../src/extender/reservations/hold-store.js';
import { MemoryReservationStore } from '../../../src/extender/reservations/memory-store.js';
import { TERMS, cdp, memberNode, pod, smallWorld } from './fixtures.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** A Binding the apiserver takes `ms` to answer (the clock moves while it waits). */
class SlowBinder implements PodBinder {
  bound: [PodRef, string][] = [];
  constructor(
    private readonly clock: { now: number },
    private readonly ms: number,
  ) {}
  bind(p: PodRef, node: string): Promise<void> {
    this.clock.now += this.ms;
    this.bound.push([p, node]);
    return Promise.resolve();
  }
}

/** One extender replica: its own cache of the same world, the hold store shared. */
function replica(holds: MemoryHoldStore, binder: PodBinder) {
  const cache = smallWorld();
  cache.upsertDistributionPolicy(
    cdp('leaf-only', {
      resourceSelectors: [{ namePrefix: 'leafy', policyName: 'leaf' }],
      policyTerms: TERMS,
    }),
  );
  cache.upsertMemberNode('leaf-1', memberNode('m-1', { cpu: '4' }));
  const { app } = createExtenderApp({
    cache,
    store: new MemoryReservationStore(),
    holds,
    binder,
    logger: silent,
  });
  return { app, cache };
}

describe('member hold across a slow bind', () => {
  it('a pod bound to a leaf keeps its member chunk although its Binding took longer than the tentative hold', async () => {
    const clock = { now: 1_000_000 };
    const holds = new MemoryHoldStore(() => clock.now);
    // The apiserver takes 11 s to write the Binding: longer than the 10 s filter-time hold.
    const binder = new SlowBinder(clock, 11_000);
    const a = replica(holds, binder);
    const b = replica(holds, binder);
    const first = pod('leafy-a', { requests: { cpu: '3' } });
    const f1 = await request(a.app)
      .post('/filter')
      .send({ Pod: first, NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(f1.body.NodeNames).toEqual(['kosmos-leaf-1']);
    const bound = await request(a.app)
      .post('/bind')
      .send({
        PodName: 'leafy-a',
        PodNamespace: 'default',
        PodUID: first.metadata?.uid,
        Node: 'kosmos-leaf-1',
      })
      .expect(200);
    expect(bound.body).toEqual({ Error: '' });
    expect(binder.bound).toHaveLength(1);
    // leafy-a is bound to kosmos-leaf-1, but ClusterTree has not yet had the leaf's scheduler
    // place it on m-1: only the hold keeps m-1's 3 cpu. The other replica reads the store.
    const f2 = await request(b.app)
      .post('/filter')
      .send({ Pod: pod('leafy-b', { requests: { cpu: '2' } }), NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(f2.body.NodeNames).toEqual([]);
    expect(f2.body.FailedNodes['kosmos-leaf-1']).toBe('leaf-1: no member node has 2 cpu free; largest 1');
    // Once the leaf pod is on m-1 it speaks for itself and the hold goes.
    b.cache.upsertMemberPod(
      'leaf-1',
      pod('leafy-a', { nodeName: 'm-1', requests: { cpu: '3' }, phase: 'Running', uid: 'leaf-a' }),
    );
    expect(b.cache.members.holdCount()).toBe(0);
  });
});
