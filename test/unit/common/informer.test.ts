/**
 * The informer's state transitions and retry policy, as pure functions (the way
 * @kubernetes/client-node tests its ListWatch cache): what a watch event or a relist does to
 * the store and which events the handlers hear, and what the informer does next after each
 * kind of outcome. The I/O loop around them runs against real apiservers in the e2e suites.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.js';
import {
  FIRST_PLAN,
  INITIAL_RETRY_MS,
  MAX_RETRY_MS,
  RETRY_JITTER,
  applyEvent,
  identityOf,
  newState,
  nextPlan,
  relistDiff,
  relistEnd,
  relistPage,
  retryDelay,
  withKind,
  type InformerState,
  type Outcome,
  type Plan,
} from '../../../src/common/informer.js';
import { KubeApiError } from '../../../src/common/kube.js';

const obj = (name: string, rv: string, namespace = 'default', extra: object = {}): KubeObject => ({
  metadata: { name, namespace, resourceVersion: rv, uid: `uid-${name}` },
  ...extra,
});

function stateWith(...objs: KubeObject[]): InformerState<KubeObject> {
  const state = newState<KubeObject>();
  relistDiff(state, objs, '100');
  return state;
}

const names = (state: InformerState<KubeObject>) => [...state.store.keys()].sort();
const summary = (events: { type: string; object: KubeObject }[]) =>
  events.map((e) => `${e.type} ${e.object.metadata?.name}@${e.object.metadata?.resourceVersion ?? '-'}`);

describe('informer: a relist reports its differences as events', () => {
  it('GIVEN an empty store WHEN the first list arrives THEN every object is an add and the state is at the list resourceVersion', () => {
    const state = newState<KubeObject>();
    const events = relistDiff(state, [obj('a', '1'), obj('b', '2')], '10');
    expect(summary(events)).toEqual(['add a@1', 'add b@2']);
    expect(state.resourceVersion).toBe('10');
    expect(names(state)).toEqual(['default/a', 'default/b']);
  });

  it('GIVEN a, b and c stored WHEN a relist (after 410 Gone) lists a unchanged, b changed and d new THEN b is an update, d an add, c a delete, and a is not reported', () => {
    const state = stateWith(obj('a', '1'), obj('b', '2'), obj('c', '3'));
    const events = relistDiff(state, [obj('a', '1'), obj('b', '5'), obj('d', '6')], '20');
    expect(summary(events)).toEqual(['update b@5', 'add d@6', 'delete c@3']);
    expect(names(state)).toEqual(['default/a', 'default/b', 'default/d']);
    expect(state.resourceVersion).toBe('20');
  });

  it('GIVEN an update from a relist THEN the handler gets the stored object as the old one', () => {
    const state = stateWith(obj('b', '2'));
    const [ev] = relistDiff(state, [obj('b', '5')], '20');
    expect(ev).toMatchObject({ type: 'update', old: { metadata: { resourceVersion: '2' } } });
  });

  it('GIVEN objects of the same name in two namespaces THEN they are two objects, and listing only one deletes the other', () => {
    const state = stateWith(obj('x', '1', 'ns-1'), obj('x', '2', 'ns-2'));
    expect(names(state)).toEqual(['ns-1/x', 'ns-2/x']);
    expect(summary(relistDiff(state, [obj('x', '1', 'ns-1')], '30'))).toEqual(['delete x@2']);
  });

  it('GIVEN a paged relist WHEN an object is on page 2 THEN page 1 does not delete it; only the end of the relist deletes what no page listed', () => {
    const state = stateWith(obj('a', '1'), obj('b', '2'), obj('c', '3'));
    const seen = new Set<string>();
    expect(summary(relistPage(state, seen, [obj('a', '1')]))).toEqual([]);
    expect(names(state)).toEqual(['default/a', 'default/b', 'default/c']);
    expect(summary(relistPage(state, seen, [obj('b', '4')]))).toEqual(['update b@4']);
    expect(summary(relistEnd(state, seen, '40'))).toEqual(['delete c@3']);
    expect(state.resourceVersion).toBe('40');
  });

  it('GIVEN a slim store that keeps identities only (no resourceVersion) WHEN a relist lists an object again THEN it is reported as an update, and a delete carries the identity', () => {
    const state = newState<KubeObject>();
    relistDiff(state, [obj('a', '1', 'default', { spec: { big: true } })], '1', identityOf);
    expect(state.store.get('default/a')).toEqual({
      metadata: { name: 'a', namespace: 'default', uid: 'uid-a' },
    });
    expect(summary(relistDiff(state, [obj('a', '1')], '2', identityOf))).toEqual(['update a@1']);
    expect(relistDiff(state, [], '3', identityOf)).toEqual([
      { type: 'delete', object: { metadata: { name: 'a', namespace: 'default', uid: 'uid-a' } } },
    ]);
  });
});

describe('informer: watch events', () => {
  it.each([
    [
      'ADDED of a new object',
      { type: 'ADDED', object: obj('n', '7') },
      ['add n@7'],
      ['default/a', 'default/n'],
      '7',
    ],
    ['MODIFIED', { type: 'MODIFIED', object: obj('a', '7') }, ['update a@7'], ['default/a'], '7'],
    [
      'MODIFIED at the stored resourceVersion',
      { type: 'MODIFIED', object: obj('a', '1') },
      [],
      ['default/a'],
      '1',
    ],
    ['ADDED of a known object', { type: 'ADDED', object: obj('a', '7') }, ['update a@7'], ['default/a'], '7'],
    ['DELETED', { type: 'DELETED', object: obj('a', '7') }, ['delete a@7'], [], '7'],
    ['DELETED of an unknown object', { type: 'DELETED', object: obj('z', '7') }, [], ['default/a'], '7'],
    [
      'BOOKMARK',
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } },
      [],
      ['default/a'],
      '7',
    ],
  ] as const)(
    'GIVEN a stored WHEN the watch sends %s THEN the handlers hear what changed and the state moves to its resourceVersion',
    (_, event, heard, keys, rv) => {
      const state = stateWith(obj('a', '1'));
      const ev = applyEvent(state, event as Parameters<typeof applyEvent<KubeObject>>[1]);
      expect(summary(ev ? [ev] : [])).toEqual(heard);
      expect(names(state)).toEqual(keys);
      expect(state.resourceVersion).toBe(rv);
    },
  );

  it('GIVEN a watch WHEN it sends ERROR with a 410 Status THEN applying it throws the 410 KubeApiError and changes nothing', () => {
    const state = stateWith(obj('a', '1'));
    const gone = {
      kind: 'Status',
      code: 410,
      reason: 'Expired',
      message: 'too old resource version: 1 (50)',
    };
    let thrown: unknown;
    try {
      applyEvent(state, { type: 'ERROR', object: gone as KubeObject });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(KubeApiError);
    expect(thrown).toMatchObject({ status: 410, reason: 'Expired' });
    expect((thrown as Error).message).toContain('too old resource version');
    expect(state.resourceVersion).toBe('100');
    expect(names(state)).toEqual(['default/a']);
  });

  it('GIVEN a slim store THEN a watched object is stored slim but the handler hears it whole', () => {
    const state = newState<KubeObject>();
    const ev = applyEvent(
      state,
      { type: 'ADDED', object: obj('a', '1', 'default', { spec: { big: true } }) },
      identityOf,
    );
    expect(ev?.object).toHaveProperty('spec');
    expect(state.store.get('default/a')).not.toHaveProperty('spec');
  });

  it('GIVEN list items without apiVersion and kind THEN withKind stamps them, and leaves an object that has them as it is', () => {
    const stamp = withKind<KubeObject>('v1', 'Service');
    expect(stamp(obj('a', '1'))).toMatchObject({ apiVersion: 'v1', kind: 'Service' });
    const full = { ...obj('a', '1'), apiVersion: 'v1', kind: 'Service' };
    expect(stamp(full)).toBe(full);
  });
});

describe('informer: what it does next', () => {
  const gone = new KubeApiError(410, 'Expired', 'too old');
  const refused = new Error('connect ECONNREFUSED');
  const mid = () => 0.5;
  const step = (prev: Plan, outcome: Outcome) => nextPlan(prev, outcome, mid);

  it('GIVEN a list that succeeded THEN it watches at once, from the list resourceVersion', () => {
    expect(step({ next: 'list', delayMs: 500, failures: 3 }, { ok: true, step: 'list' })).toEqual({
      next: 'watch',
      delayMs: 0,
      failures: 0,
    });
  });

  it('GIVEN a watch the server ended after sending events (its timeout) THEN it resumes the watch at once, from the last resourceVersion (no relist)', () => {
    expect(step({ next: 'watch', delayMs: 0, failures: 0 }, { ok: true, step: 'watch', events: 12 })).toEqual(
      {
        next: 'watch',
        delayMs: 0,
        failures: 0,
      },
    );
  });

  it('GIVEN a watch that got 410 Gone THEN it relists at once', () => {
    expect(
      step({ next: 'watch', delayMs: 0, failures: 0 }, { ok: false, step: 'watch', error: gone }),
    ).toEqual({
      next: 'list',
      delayMs: 0,
      failures: 1,
    });
  });

  it('GIVEN 410 Gone again right after a relist (an expired continue token) THEN the next relist waits', () => {
    const p = step({ next: 'list', delayMs: 0, failures: 1 }, { ok: false, step: 'list', error: gone });
    expect(p.next).toBe('list');
    expect(p.delayMs).toBeGreaterThan(0);
  });

  it('GIVEN a broken watch THEN it resumes the watch after a delay (the resourceVersion still holds; a 410 would relist)', () => {
    const p = step({ next: 'watch', delayMs: 0, failures: 0 }, { ok: false, step: 'watch', error: refused });
    expect(p).toEqual({ next: 'watch', delayMs: retryDelay(0, mid), failures: 1 });
  });

  it('GIVEN a failed list THEN it lists again after a delay', () => {
    const p = step(FIRST_PLAN, { ok: false, step: 'list', error: refused });
    expect(p).toEqual({ next: 'list', delayMs: retryDelay(0, mid), failures: 1 });
  });

  it('GIVEN a server that ends every watch before sending anything THEN reconnects back off instead of spinning', () => {
    let p: Plan = { next: 'watch', delayMs: 0, failures: 0 };
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      p = step(p, { ok: true, step: 'watch', events: 0 });
      delays.push(p.delayMs);
    }
    expect(p.next).toBe('watch');
    expect(delays).toEqual([0, 1, 2, 3].map((f) => retryDelay(f, mid)));
    expect(delays[3]).toBeGreaterThan(delays[0]!);
  });

  it('GIVEN failures in a row THEN the delays double from INITIAL_RETRY_MS up to MAX_RETRY_MS, and one success resets them', () => {
    let p: Plan = FIRST_PLAN;
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      p = nextPlan(p, { ok: false, step: 'list', error: refused }, () => 0);
      delays.push(p.delayMs);
    }
    expect(delays.slice(0, 4)).toEqual([1, 2, 4, 8].map((f) => f * INITIAL_RETRY_MS));
    expect(Math.max(...delays)).toBe(MAX_RETRY_MS);
    expect(delays.at(-1)).toBe(MAX_RETRY_MS);
    p = nextPlan(p, { ok: true, step: 'list' }, () => 0);
    p = nextPlan(p, { ok: false, step: 'watch', error: refused }, () => 0);
    expect(p.delayMs).toBe(INITIAL_RETRY_MS);
  });

  it.each([0, 0.25, 0.999])(
    'GIVEN jitter %d THEN a delay is shortened by at most RETRY_JITTER, never lengthened',
    (r) => {
      for (const failures of [0, 3, 20]) {
        const full = Math.min(MAX_RETRY_MS, INITIAL_RETRY_MS * 2 ** failures);
        const d = retryDelay(failures, () => r);
        expect(d).toBeLessThanOrEqual(full);
        expect(d).toBeGreaterThanOrEqual(Math.floor(full * (1 - RETRY_JITTER)));
      }
    },
  );

  it('GIVEN two informers failing together THEN different jitter draws give them different delays', () => {
    expect(retryDelay(4, () => 0.1)).not.toBe(retryDelay(4, () => 0.9));
  });
});
