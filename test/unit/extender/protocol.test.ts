import https from 'node:https';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExtenderApp } from '../../../src/extender/app.js';
import type { ExtenderCache } from '../../../src/extender/cache.js';
import type { EventRecorder, PodBinder, PodRef } from '../../../src/extender/kube-adapters.js';
import { MemoryReservationStore } from '../../../src/extender/reservations/memory-store.js';
import { startExtender, type RunningExtender } from '../../../src/extender/server.js';
import {
  ALL,
  TERMS,
  WLP_LABEL,
  cdp,
  hostNode,
  leafNode,
  memberNode,
  pod,
  smallWorld,
  wlp,
} from './fixtures.js';

class FakeBinder implements PodBinder {
  bound: [PodRef, string][] = [];
  fail: string | undefined;
  bind(p: PodRef, node: string): Promise<void> {
    if (this.fail) return Promise.reject(new Error(this.fail));
    this.bound.push([p, node]);
    return Promise.resolve();
  }
}

class FakeEvents implements EventRecorder {
  events: [PodRef, string][] = [];
  unschedulable(p: PodRef, message: string): void {
    this.events.push([p, message]);
  }
}

function setup(): {
  cache: ExtenderCache;
  binder: FakeBinder;
  events: FakeEvents;
  app: ReturnType<typeof createExtenderApp>['app'];
} {
  const cache = smallWorld();
  cache.upsertDistributionPolicy(
    cdp('leaf-only', {
      resourceSelectors: [{ namePrefix: 'leafy', policyName: 'leaf' }],
      policyTerms: TERMS,
    }),
  );
  cache.upsertMemberNode('leaf-1', memberNode('m-1', { cpu: '4' }));
  const binder = new FakeBinder();
  const events = new FakeEvents();
  const { app } = createExtenderApp({
    cache,
    store: new MemoryReservationStore(),
    binder,
    events,
    logger: silent,
  });
  return { cache, binder, events, app };
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

describe('filter verb', () => {
  it('answers with the upstream PascalCase ExtenderFilterResult for node names (nodeCacheCapable: true)', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/filter')
      .send({ Pod: pod('leafy-1'), Nodes: null, NodeNames: ALL })
      .expect(200);
    expect(Object.keys(res.body).sort()).toEqual([
      'Error',
      'FailedAndUnresolvableNodes',
      'FailedNodes',
      'NodeNames',
      'Nodes',
    ]);
    expect(res.body.NodeNames).toEqual(['kosmos-leaf-1', 'kosmos-leaf-2']);
    expect(res.body.Nodes).toBeNull();
    expect(res.body.Error).toBe('');
    expect(Object.keys(res.body.FailedAndUnresolvableNodes).sort()).toEqual(['host-1', 'host-2']);
    expect(res.body.FailedAndUnresolvableNodes['host-1']).toContain('ClusterDistributionPolicy leaf-only');
  });

  it('returns the node objects themselves when the scheduler sends a NodeList (nodeCacheCapable: false)', async () => {
    const { app } = setup();
    const nodes = [hostNode('h-x'), leafNode('kosmos-leaf-9', 'leaf-9')];
    const res = await request(app)
      .post('/filter')
      .send({ Pod: pod('leafy-2'), Nodes: { items: nodes }, NodeNames: null })
      .expect(200);
    expect(res.body.NodeNames).toBeNull();
    expect(res.body.Nodes.items).toEqual([nodes[1]]);
    expect(Object.keys(res.body.FailedAndUnresolvableNodes)).toEqual(['h-x']);
  });

  it('reports fragmented-fit failures as resolvable FailedNodes naming the cluster and the largest chunk', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/filter')
      .send({ Pod: pod('p', { requests: { cpu: '6' } }), NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(res.body.FailedNodes).toEqual({
      'kosmos-leaf-1': 'leaf-1: no member node has 6 cpu free; largest 4',
    });
  });

  it('records a Warning Event naming the reason when no node fits', async () => {
    const { app, events } = setup();
    await request(app)
      .post('/filter')
      .send({
        Pod: pod('leafy-3', { namespace: 'team', requests: { cpu: '6' } }),
        NodeNames: ['host-1', 'kosmos-leaf-1'],
      })
      .expect(200);
    expect(events.events).toHaveLength(1);
    expect(events.events[0]?.[0]).toMatchObject({ namespace: 'team', name: 'leafy-3' });
    expect(events.events[0]?.[1]).toContain('leaf-1: no member node has 6 cpu free; largest 4');
  });

  it('accepts camelCase keys, as the Go decoder does', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/filter')
      .send({ pod: pod('x'), nodeNames: ['host-1'] })
      .expect(200);
    expect(res.body.NodeNames).toEqual(['host-1']);
  });
});

describe('bad input', () => {
  it.each([
    ['malformed JSON', '{"Pod": {', 'malformed JSON in filter body'],
    ['a body without a Pod', JSON.stringify({ NodeNames: ['host-1'] }), 'ExtenderArgs.Pod is missing'],
    [
      'a Pod without spec',
      JSON.stringify({ Pod: { metadata: { name: 'x' } }, NodeNames: [] }),
      'ExtenderArgs.Pod.spec is missing',
    ],
    ['an array body', '[]', 'request body must be a JSON object (ExtenderArgs)'],
    [
      'NodeNames that are not strings',
      JSON.stringify({ Pod: pod('x'), NodeNames: [1] }),
      'ExtenderArgs.NodeNames must be an array of strings',
    ],
    [
      'neither NodeNames nor Nodes',
      JSON.stringify({ Pod: pod('x') }),
      'ExtenderArgs has neither NodeNames nor Nodes',
    ],
  ])('filter answers 400 to %s with a one-line Error, and keeps serving', async (_n, body, reason) => {
    const { app } = setup();
    const res = await request(app)
      .post('/filter')
      .set('Content-Type', 'application/json')
      .send(body)
      .expect(400);
    expect(res.body).toEqual({
      Nodes: null,
      NodeNames: null,
      FailedNodes: {},
      FailedAndUnresolvableNodes: {},
      Error: reason,
    });
    expect(res.text).not.toMatch(/\n\s+at |node_modules|\.ts:/);
    await request(app)
      .post('/filter')
      .send({ Pod: pod('ok'), NodeNames: ['host-1'] })
      .expect(200);
  });

  it('prioritize and bind answer 400 with an Error too', async () => {
    const { app } = setup();
    const p = await request(app)
      .post('/prioritize')
      .set('Content-Type', 'application/json')
      .send('nope')
      .expect(400);
    expect(p.body).toEqual({ Error: 'malformed JSON in prioritize body' });
    const b = await request(app).post('/bind').send({ PodName: 'x' }).expect(400);
    expect(b.body).toEqual({ Error: 'ExtenderBindingArgs.PodNamespace is missing' });
  });
});

describe('prioritize verb', () => {
  it('answers a bare HostPriorityList with scores between 0 and 10', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/prioritize')
      .send({ Pod: pod('p'), NodeNames: ALL })
      .expect(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body.map((h: { Host: string }) => h.Host)).toEqual(ALL);
    for (const h of res.body as { Score: number }[]) {
      expect(Number.isInteger(h.Score)).toBe(true);
      expect(h.Score).toBeGreaterThanOrEqual(0);
      expect(h.Score).toBeLessThanOrEqual(10);
    }
  });
});

describe('bind verb', () => {
  it('binds through the apiserver and holds member capacity for a leaf placement until the pod shows up', async () => {
    const { app, binder, cache } = setup();
    const p = pod('leafy-9', { requests: { cpu: '3' } });
    await request(app)
      .post('/filter')
      .send({ Pod: p, NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    const args = {
      PodName: 'leafy-9',
      PodNamespace: 'default',
      PodUID: p.metadata?.uid,
      Node: 'kosmos-leaf-1',
    };
    expect((await request(app).post('/bind').send(args).expect(200)).body).toEqual({ Error: '' });
    // Retried bind: still one hold.
    await request(app).post('/bind').send(args).expect(200);
    expect(binder.bound).toHaveLength(2);
    expect(cache.members.holdCount()).toBe(1);
    const next = await request(app)
      .post('/filter')
      .send({ Pod: pod('q', { requests: { cpu: '2' } }), NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(next.body.FailedNodes['kosmos-leaf-1']).toBe('leaf-1: no member node has 2 cpu free; largest 1');
  });

  it('a burst cannot promise the same member chunk twice: the next pod is held off before the first one is bound', async () => {
    const { app } = setup();
    const first = pod('a', { requests: { cpu: '3' } });
    const second = pod('b', { requests: { cpu: '2' } });
    const f1 = await request(app)
      .post('/filter')
      .send({ Pod: first, NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(f1.body.NodeNames).toEqual(['kosmos-leaf-1']);
    // The scheduler moves on to the next pod before binding the first one.
    const f2 = await request(app)
      .post('/filter')
      .send({ Pod: second, NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(f2.body.FailedNodes['kosmos-leaf-1']).toBe('leaf-1: no member node has 2 cpu free; largest 1');
    // The first pod filtered again (a retry) is not blocked by its own hold.
    const again = await request(app)
      .post('/filter')
      .send({ Pod: first, NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(again.body.NodeNames).toEqual(['kosmos-leaf-1']);
  });

  it('passes an apiserver failure back in Error with HTTP 200, as the scheduler expects', async () => {
    const { app, binder } = setup();
    binder.fail = 'pods "x" not found';
    const res = await request(app)
      .post('/bind')
      .send({ PodName: 'x', PodNamespace: 'default', PodUID: 'u', Node: 'host-1' })
      .expect(200);
    expect(res.body).toEqual({ Error: 'pods "x" not found' });
  });
});

describe('preempt verb', () => {
  it('keeps only candidates the pod may use, answering with meta victims (UIDs)', async () => {
    const { app } = setup();
    const victims = { Pods: [{ UID: 'v1' }], NumPDBViolations: 0 };
    const res = await request(app)
      .post('/preempt')
      .send({
        Pod: pod('leafy-p'),
        NodeNameToMetaVictims: { 'host-1': victims, 'kosmos-leaf-1': victims },
        NodeNameToVictims: null,
      })
      .expect(200);
    expect(res.body).toEqual({ NodeNameToMetaVictims: { 'kosmos-leaf-1': victims } });
  });

  it('turns full victim pods into UIDs when the scheduler is not nodeCacheCapable', async () => {
    const { app } = setup();
    const victim = pod('old', { uid: 'uid-old' });
    const res = await request(app)
      .post('/preempt')
      .send({ Pod: pod('p'), NodeNameToVictims: { 'host-1': { Pods: [victim], NumPDBViolations: 1 } } })
      .expect(200);
    expect(res.body).toEqual({
      NodeNameToMetaVictims: { 'host-1': { Pods: [{ UID: 'uid-old' }], NumPDBViolations: 1 } },
    });
  });

  it('answers 400 without candidates', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/preempt')
      .send({ Pod: pod('p') })
      .expect(400);
    expect(res.body).toEqual({
      Error: 'ExtenderPreemptionArgs has neither NodeNameToMetaVictims nor NodeNameToVictims',
    });
  });
});

describe('observability', () => {
  it('serves /healthz, /readyz and latency histograms per verb on /metrics', async () => {
    const { app } = setup();
    await request(app)
      .post('/filter')
      .send({ Pod: pod('p'), NodeNames: ['host-1'] });
    await request(app)
      .post('/prioritize')
      .send({ Pod: pod('p'), NodeNames: ['host-1'] });
    expect((await request(app).get('/healthz').expect(200)).text).toBe('ok');
    await request(app).get('/readyz').expect(200);
    const m = (await request(app).get('/metrics').expect(200)).text;
    expect(m).toMatch(/kosmos_extender_request_duration_seconds_bucket\{le="0.001",[^}]*verb="filter"/);
    expect(m).toMatch(/kosmos_extender_request_duration_seconds_count\{[^}]*verb="prioritize"/);
    expect(m).toMatch(/kosmos_extender_requests_total\{[^}]*verb="filter",outcome="placed"/);
  });
});

describe('startExtender', () => {
  let ext: RunningExtender;
  beforeAll(async () => {
    ext = await startExtender({ tls: { generate: true }, logger: silent, cache: smallWorld() });
  });
  afterAll(async () => {
    await ext.close();
  });

  it('serves HTTPS with a generated certificate, so enableHTTPS works without a CA', async () => {
    expect(ext.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const body = JSON.stringify({ Pod: pod('p'), NodeNames: ['host-1', 'nope'] });
    const answer = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        `${ext.url}/filter`,
        { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(JSON.parse(answer)).toMatchObject({
      NodeNames: ['host-1'],
      FailedNodes: { nope: "node nope is not in the extender's cache yet" },
    });
  });

  it('without a kubeconfig, bind says it cannot bind instead of pretending', async () => {
    const res = await request(ext.app)
      .post('/bind')
      .send({ PodName: 'x', PodNamespace: 'default', PodUID: 'u', Node: 'host-1' })
      .expect(200);
    expect(res.body.Error).toBe('this extender has no apiserver connection to bind with');
  });
});

describe('pods deleted between filter and bind', () => {
  it('give their WorkloadPolicy slot back at once, so a replacement pod is not refused for the TTL', async () => {
    const cache = smallWorld();
    cache.upsertNode(leafNode('kosmos-leaf-9', 'leaf-9'));
    cache.upsertWorkloadPolicy(
      wlp('one', 'default', {
        topologyKey: 'kosmos.io/cluster',
        labelSelector: { matchLabels: { app: 'w' } },
        allocationType: 'Required',
        allocationPolicy: [{ name: 'leaf-9', replicas: 1 }],
      }),
    );
    const store = new MemoryReservationStore();
    const { app } = createExtenderApp({ cache, store, logger: silent });
    const labels = { app: 'w', [WLP_LABEL]: 'one' };
    const first = pod('w-1', { labels });
    cache.upsertPod(first);
    await request(app)
      .post('/filter')
      .send({ Pod: first, NodeNames: ['kosmos-leaf-9'] })
      .expect(200);
    const refused = await request(app)
      .post('/filter')
      .send({ Pod: pod('w-2', { labels }), NodeNames: ['kosmos-leaf-9'] });
    expect(refused.body.NodeNames).toEqual([]);
    cache.deletePod(first);
    await new Promise((r) => setImmediate(r));
    const admitted = await request(app)
      .post('/filter')
      .send({ Pod: pod('w-3', { labels }), NodeNames: ['kosmos-leaf-9'] });
    expect(admitted.body.NodeNames).toEqual(['kosmos-leaf-9']);
  });
});

describe('holds of a pod filtered again', () => {
  it('are given back when the pod no longer passes any leaf', async () => {
    const { app, cache } = setup();
    const p = pod('leafy-h', { requests: { cpu: '3' } });
    await request(app)
      .post('/filter')
      .send({ Pod: p, NodeNames: ['kosmos-leaf-1'] })
      .expect(200);
    expect(cache.members.holdCount()).toBe(1);
    // Retried with only host candidates (its policy rejects them): nothing passes, nothing is held.
    await request(app)
      .post('/filter')
      .send({ Pod: p, NodeNames: ['host-1'] })
      .expect(200);
    expect(cache.members.holdCount()).toBe(0);
    const other = await request(app)
      .post('/filter')
      .send({ Pod: pod('q', { requests: { cpu: '3' } }), NodeNames: ['kosmos-leaf-1'] });
    expect(other.body.NodeNames).toEqual(['kosmos-leaf-1']);
  });
});
