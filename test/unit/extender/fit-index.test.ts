import { describe, expect, it } from 'vitest';
import { FitIndex } from '../../../src/extender/fit-index/fit-index.js';
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

  it('filter-time holds are replaced per pod and dropped when they expire', () => {
    const ix = index([4]);
    ix.holdTentatively('p', [{ cluster: 'leaf', node: 'm-0' }], { cpu: 3000 }, 100);
    ix.holdTentatively('p', [{ cluster: 'leaf', node: 'm-0' }], { cpu: 3000 }, 100);
    expect(ix.fit('leaf', cluster, { cpu: 1000 }, any)).toMatchObject({ ok: true });
    expect(ix.fit('leaf', cluster, { cpu: 2000 }, any)).toMatchObject({ ok: false });
    expect(ix.sweep(101)).toBe(1);
    expect(ix.fit('leaf', cluster, { cpu: 4000 }, any)).toMatchObject({ ok: true });
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
