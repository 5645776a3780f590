import { describe, expect, it } from 'vitest';
import { FitIndex } from '../../../src/extender/fit-index/fit-index.js';
import { HoldSync } from '../../../src/extender/hold-sync.js';
import { MemoryHoldStore } from '../../../src/extender/reservations/hold-store.js';
import { memberNode } from './fixtures.js';

const any = { nodeSelector: {}, requiredTerms: undefined, tolerations: [] };
const cluster = { kind: 'cluster' as const };

function index(cpus: number[]): FitIndex {
  const ix = new FitIndex();
  cpus.forEach((c, i) => ix.upsertNode('leaf', memberNode(`m-${i}`, { cpu: String(c) })));
  return ix;
}

describe('fit index', () => {
  it('finds the tightest member node that fits when asked for the best fit', () => {
    const ix = index([8, 3, 4, 2]);
    expect(ix.fit('leaf', cluster, { cpu: 2500 }, any, true)).toMatchObject({
      ok: true,
      memberNode: 'm-1',
      leftover: 500,
    });
  });

  it('keeps answering correctly as pods come and go on member nodes', () => {
    const ix = index([4, 4, 4]);
    const run = (uid: string, node: string, cpu: number, terminal = false): void =>
      ix.upsertPod('leaf', { uid, namespace: 'd', name: uid, nodeName: node, terminal, requests: { cpu } });
    run('a', 'm-0', 3000);
    run('b', 'm-1', 3500);
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({ ok: true, memberNode: 'm-2' });
    run('c', 'm-2', 3000);
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({
      ok: false,
      reason: 'no member node has 2 cpu free; largest 1',
    });
    run('a', 'm-0', 3000, true); // finished
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({ ok: true, memberNode: 'm-0' });
    ix.deletePod('leaf', 'b');
    expect(ix.fit('leaf', cluster, { cpu: 4000 }, any)).toMatchObject({ ok: true });
  });

  it('holds are replaced per holder and stop counting once the pod shows up in the leaf', () => {
    const ix = index([4]);
    const hold = [{ cluster: 'leaf', node: 'm-0', requests: { cpu: 3000 } }];
    ix.setHolder('d/p', hold);
    ix.setHolder('d/p', hold);
    expect(ix.fit('leaf', cluster, { cpu: 1000 }, any)).toMatchObject({ ok: true });
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({ ok: false });
    ix.upsertPod('leaf', {
      uid: 'x',
      namespace: 'd',
      name: 'p',
      nodeName: 'm-0',
      terminal: false,
      requests: { cpu: 3000 },
    });
    expect(ix.holdCount()).toBe(0);
    expect(ix.fit('leaf', cluster, { cpu: 1000 }, any)).toMatchObject({ ok: true });
  });

  it('a pod that arrives before its member node is counted once the node shows up', () => {
    const ix = new FitIndex();
    ix.upsertPod('leaf', {
      uid: 'a',
      namespace: 'd',
      name: 'a',
      nodeName: 'late',
      terminal: false,
      requests: { cpu: 3000 },
    });
    ix.upsertNode('leaf', memberNode('late', { cpu: '4' }));
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({
      ok: false,
      reason: 'no member node has 2 cpu free; largest 1',
    });
  });

  it('knows nothing about a cluster it was never fed', () => {
    expect(new FitIndex().fit('nope', cluster, { cpu: 1 }, any)).toBeUndefined();
  });
});

describe('holds mirrored from the hold store', () => {
  it('a hold whose pod was never bound stops counting after its TTL', async () => {
    let now = 0;
    const ix = index([4]);
    const sync = new HoldSync(new MemoryHoldStore(() => now), ix);
    const basis = await sync.refresh();
    expect(
      await sync.place('d/p', [{ cluster: 'leaf', node: 'm-0', requests: { cpu: 3000 } }], 10_000, basis),
    ).toBe(true);
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({ ok: false });
    now = 10_001;
    await sync.refresh();
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({ ok: true });
  });

  it('a write based on an outdated mirror is refused, so the decision is made again', async () => {
    const store = new MemoryHoldStore();
    const a = new HoldSync(store, index([4]));
    const b = new HoldSync(store, index([4]));
    const basisA = await a.refresh();
    const basisB = await b.refresh();
    const hold = [{ cluster: 'leaf', node: 'm-0', requests: { cpu: 3000 } }];
    expect(await a.place('d/p', hold, 10_000, basisA)).toBe(true);
    expect(await b.place('d/q', hold, 10_000, basisB)).toBe(false);
  });
});
