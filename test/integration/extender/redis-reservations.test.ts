/**
 * Reservations against a real redis-server: each file starts its own on a free loopback
 * port (or uses REDIS_URL), every test works under a random key prefix, and everything is
 * removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExtenderCache } from '../../../src/extender/cache.js';
import { decideFilter } from '../../../src/extender/decide.js';
import { toPodView } from '../../../src/extender/placement/pod-view.js';
import request from 'supertest';
import { createExtenderApp } from '../../../src/extender/app.js';
import { RedisHoldStore } from '../../../src/extender/reservations/redis-hold-store.js';
import { RedisReservationStore } from '../../../src/extender/reservations/redis-store.js';
import { type TestRedis, startRedis } from '../../support/redis-server.js';
import { WLP_LABEL, leafNode, memberNode, pod, wlp } from '../../unit/extender/fixtures.js';

let server: TestRedis | undefined;
let url = '';

beforeAll(async () => {
  server = await startRedis();
  url = server.url;
});

afterAll(async () => {
  await server?.stop();
});

let prefix = '';
let admin: Redis;
const stores: RedisReservationStore[] = [];
const store = (): RedisReservationStore => {
  const s = new RedisReservationStore({ url, prefix });
  stores.push(s);
  return s;
};

beforeEach(() => {
  prefix = `test:${randomBytes(6).toString('hex')}:`;
  admin = new Redis(url);
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

describe('Redis reservation store', () => {
  it('a reservation is visible to another replica with the version to compare against', async () => {
    const a = store();
    const b = store();
    expect(await a.reserve('ns/p', 0, 'u1', 'leaf-1', 30_000)).toBe(true);
    const snap = await b.snapshot('ns/p');
    expect(snap.version).toBe(1);
    expect(snap.entries).toMatchObject([{ uid: 'u1', domain: 'leaf-1' }]);
  });

  it('a write based on a stale version is refused, so two replicas never both take the last slot', async () => {
    const a = store();
    const b = store();
    const seenByA = await a.snapshot('ns/p');
    const seenByB = await b.snapshot('ns/p');
    expect(await a.reserve('ns/p', seenByA.version, 'ua', 'leaf-1', 30_000)).toBe(true);
    expect(await b.reserve('ns/p', seenByB.version, 'ub', 'leaf-1', 30_000)).toBe(false);
    expect((await b.snapshot('ns/p')).entries.map((e) => e.uid)).toEqual(['ua']);
  });

  it('confirm records the node; release removes the entry; both bump the version', async () => {
    const a = store();
    await a.reserve('ns/p', 0, 'u1', 'leaf-1', 30_000);
    await a.confirm('ns/p', 'u1', 'kosmos-leaf-1', 60_000);
    expect((await a.snapshot('ns/p')).entries[0]).toMatchObject({ node: 'kosmos-leaf-1' });
    await a.release('ns/p', 'u1');
    const snap = await a.snapshot('ns/p');
    expect(snap.entries).toEqual([]);
    expect(snap.version).toBe(3);
  });

  it('an entry stops counting once its TTL has passed (Redis clock)', async () => {
    const a = store();
    await a.reserve('ns/p', 0, 'u1', 'leaf-1', 1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await a.snapshot('ns/p')).entries).toEqual([]);
  });

  it('all keys live under the configured prefix', async () => {
    const a = store();
    await a.reserve('ns/p', 0, 'u1', 'leaf-1', 30_000);
    const keys = await admin.keys('*');
    expect(keys.filter((k) => k.startsWith(prefix)).sort()).toEqual([
      `${prefix}wlp:{ns/p}:entries`,
      `${prefix}wlp:{ns/p}:version`,
    ]);
  });
});

describe('two extender replicas sharing Redis', () => {
  it('a burst of 9 replicas split across two replicas still ends with exactly leaf-1: 3, leaf-2: 6', async () => {
    const policy = wlp('split', 'default', {
      topologyKey: 'kosmos.io/cluster',
      labelSelector: { matchLabels: { app: 'web' } },
      allocationType: 'Required',
      allocationPolicy: [
        { name: 'leaf-1', replicas: 3 },
        { name: 'leaf-2', replicas: 6 },
      ],
    });
    const replica = (): ExtenderCache => {
      const c = new ExtenderCache();
      c.upsertNode(leafNode('kosmos-leaf-1', 'leaf-1'));
      c.upsertNode(leafNode('kosmos-leaf-2', 'leaf-2'));
      c.upsertWorkloadPolicy(policy);
      return c;
    };
    const caches = [replica(), replica()];
    const stores2 = [store(), store()];
    const names = ['kosmos-leaf-1', 'kosmos-leaf-2'];
    // Ten pods at once, alternating replicas, all in flight together: one must be refused.
    const decisions = await Promise.all(
      [...Array(10).keys()].map((i) =>
        decideFilter(toPodView(pod(`web-${i}`, { labels: { app: 'web', [WLP_LABEL]: 'split' } })), names, {
          cache: caches[i % 2] as ExtenderCache,
          store: stores2[i % 2] as RedisReservationStore,
          reservationTtlMs: 30_000,
        }),
      ),
    );
    const counts: Record<string, number> = {};
    for (const d of decisions) if (d.reserve) counts[d.reserve.domain] = (counts[d.reserve.domain] ?? 0) + 1;
    expect(counts).toEqual({ 'leaf-1': 3, 'leaf-2': 6 });
    expect(decisions.filter((d) => d.passed.length === 0)).toHaveLength(1);
  });
});

describe('member-capacity holds shared through Redis', () => {
  const holdStores: RedisHoldStore[] = [];
  const holdStore = (): RedisHoldStore => {
    const s = new RedisHoldStore({ url, prefix });
    holdStores.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of holdStores.splice(0)) await s.close();
  });
  const placement = { cluster: 'leaf-1', node: 'm-1', requests: { cpu: 3000, pods: 1 } };

  it('a write based on a stale version is refused; narrow and drop bump the version', async () => {
    const a = holdStore();
    const b = holdStore();
    const v0 = await a.version();
    expect(await a.replace('ns/p', [placement, { ...placement, cluster: 'leaf-2' }], 30_000, v0)).toBe(
      v0 + 1,
    );
    expect(await b.replace('ns/q', [placement], 30_000, v0)).toBeUndefined();
    await b.narrow('ns/p', 'leaf-2', 60_000);
    expect((await a.snapshot()).entries).toMatchObject([
      { holder: 'ns/p', holds: [{ cluster: 'leaf-2', node: 'm-1', requests: { cpu: 3000, pods: 1 } }] },
    ]);
    await a.drop('ns/p');
    const snap = await b.snapshot();
    expect(snap).toEqual({ version: v0 + 3, entries: [] });
  });

  it('a hold stops counting once its TTL has passed (Redis clock)', async () => {
    const a = holdStore();
    await a.replace('ns/p', [placement], 1, await a.version());
    await new Promise((r) => setTimeout(r, 20));
    expect((await a.snapshot()).entries).toEqual([]);
  });

  it('two extender replicas never promise one member chunk twice', async () => {
    const replica = () => {
      const cache = new ExtenderCache();
      cache.upsertNode(leafNode('kosmos-leaf-1', 'leaf-1'));
      cache.upsertMemberNode('leaf-1', memberNode('m-1', { cpu: '3' }));
      const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
      return createExtenderApp({ cache, store: store(), holds: holdStore(), logger: silent }).app;
    };
    const [r1, r2] = [replica(), replica()];
    const first = await request(r1)
      .post('/filter')
      .send({ Pod: pod('a', { requests: { cpu: '2' } }), NodeNames: ['kosmos-leaf-1'] });
    expect(first.body.NodeNames).toEqual(['kosmos-leaf-1']);
    const second = await request(r2)
      .post('/filter')
      .send({ Pod: pod('b', { requests: { cpu: '2' } }), NodeNames: ['kosmos-leaf-1'] });
    expect(second.body.FailedNodes).toEqual({
      'kosmos-leaf-1': 'leaf-1: no member node has 2 cpu free; largest 1',
    });
  });
});
