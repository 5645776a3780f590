import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/logger.js';
import type { Node } from '../../../src/api/core.js';
import type { KubeClient } from '../../../src/common/kube.js';
import { ClusterLinkController } from '../../../src/clusterlink/controller/controller.js';
import { Elector } from '../../../src/clusterlink/elector/elector.js';
import { NetworkManager } from '../../../src/clusterlink/manager/network-manager.js';
import { RedisStore } from '../../../src/clusterlink/store/redis-store.js';
import type { ChangeEvent } from '../../../src/clusterlink/store/types.js';
import { cluster, node } from '../../unit/clusterlink/fixtures.js';
import { type TestRedis, startRedis } from '../../support/redis-server.js';

let redis: TestRedis;
let stores: RedisStore[] = [];
const log = createLogger('test', {}, () => undefined);

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});

/** A store in a fresh random key prefix, as BullMQ's tests do. */
function store(prefix = `kosmos-test-${randomBytes(4).toString('hex')}`): RedisStore {
  const s = new RedisStore(redis.url, prefix);
  stores.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis store (real Redis)', () => {
  it('GIVEN a NodeConfig spec written twice unchanged THEN the generation moves once and one event is published', async () => {
    const s = store();
    const events: ChangeEvent[] = [];
    const stop = await s.watch((e) => events.push(e));
    expect(
      await s.putNodeConfigSpec('c1-n1', {
        routes: [{ cidr: '10.0.0.0/24', gw: '220.0.0.1', dev: 'vx-bridge' }],
      }),
    ).toBe(1);
    expect(
      await s.putNodeConfigSpec('c1-n1', {
        routes: [{ cidr: '10.0.0.0/24', gw: '220.0.0.1', dev: 'vx-bridge' }],
      }),
    ).toBe(0);
    expect(await s.putNodeConfigSpec('c1-n1', {})).toBe(2);
    await sleep(100);
    expect(events).toEqual([
      { kind: 'nodeconfig', name: 'c1-n1' },
      { kind: 'nodeconfig', name: 'c1-n1' },
    ]);
    await s.putNodeConfigStatus('c1-n1', { appliedGeneration: 2 });
    expect(await s.getNodeConfig('c1-n1')).toMatchObject({
      metadata: { name: 'c1-n1', generation: 2 },
      spec: {},
      status: { appliedGeneration: 2 },
    });
    await stop();
  });

  it('GIVEN two nodes WHEN the gateway role moves THEN exactly one node holds it and node specs keep their other fields', async () => {
    const s = store();
    await s.putClusterNode(node('c', 'a', { ip: '10.0.0.1', pod: ['10.1.0.0/24'] }));
    await s.putClusterNode(node('c', 'b', { ip: '10.0.0.2' }));
    expect(await s.setGateway('c', 'c-a')).toBe(true);
    expect(await s.setGateway('c', 'c-a')).toBe(false);
    expect(await s.setGateway('c', 'c-b')).toBe(true);
    const nodes = await s.listClusterNodes();
    expect(nodes.map((n) => [n.metadata.name, n.spec.roles])).toEqual([
      ['c-a', []],
      ['c-b', ['gateway']],
    ]);
    expect(nodes[0]?.spec.podCIDRs).toEqual(['10.1.0.0/24']);
  });

  it('GIVEN a held lease THEN another holder cannot take it until it expires', async () => {
    const s = store();
    expect(await s.tryAcquire('l', 'x', 300)).toBe(true);
    expect(await s.tryAcquire('l', 'y', 300)).toBe(false);
    expect(await s.tryAcquire('l', 'x', 300)).toBe(true);
    await sleep(400);
    expect(await s.tryAcquire('l', 'y', 300)).toBe(true);
  });
});

describe('Elector and network manager (real Redis)', () => {
  it('GIVEN two electors WHEN the leader stops renewing THEN the other takes the gateway role after the lease expires', async () => {
    const s = store();
    await s.putCluster(cluster('c', { networkType: 'gateway', pod: ['10.1.0.0/16'], svc: ['10.96.0.0/16'] }));
    await s.putClusterNode(node('c', 'a', { ip: '10.0.0.1' }));
    await s.putClusterNode(node('c', 'b', { ip: '10.0.0.2' }));
    const a = new Elector({ cluster: 'c', nodeName: 'c-a', store: s, log, ttlMs: 600, retryMs: 100 });
    const b = new Elector({ cluster: 'c', nodeName: 'c-b', store: s, log, ttlMs: 600, retryMs: 100 });
    await a.start();
    await b.start();
    await sleep(300);
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const gateways = async () =>
      (await s.listClusterNodes())
        .filter((n) => n.spec.roles?.includes('gateway'))
        .map((n) => n.metadata.name);
    expect(await gateways()).toEqual(['c-a']);
    await a.stop(); // dies without releasing
    await sleep(1200);
    expect(b.isLeader).toBe(true);
    expect(await gateways()).toEqual(['c-b']);
    await b.stop({ release: true });
  });

  it('GIVEN an unchanged network WHEN the manager reconciles again THEN it writes no NodeConfig; a cluster change rewrites only affected ones', async () => {
    const s = store();
    await s.putCluster(cluster('p', { pod: ['10.1.0.0/16'], svc: ['10.96.1.0/24'] }));
    await s.putCluster(cluster('g', { networkType: 'gateway', pod: ['10.2.0.0/16'], svc: ['10.96.2.0/24'] }));
    await s.putClusterNode(node('p', 'a', { ip: '10.0.1.1', pod: ['10.1.1.0/24'], gateway: true }));
    await s.putClusterNode(node('g', 'a', { ip: '10.0.2.1', gateway: true }));
    await s.putClusterNode(node('g', 'b', { ip: '10.0.2.2' }));
    // Roles belong to the elector: putClusterNode does not write them.
    await s.setGateway('p', 'p-a');
    await s.setGateway('g', 'g-a');
    const m = new NetworkManager({ store: s, log });
    const first = await m.reconcile();
    expect(first.written).toEqual(['g-a', 'g-b', 'p-a']);
    const again = await m.reconcile();
    expect(again.written).toEqual([]);
    await s.putCluster(cluster('p', { pod: ['10.1.0.0/16'], svc: ['10.96.1.0/24', '10.96.9.0/24'] }));
    const changed = await m.reconcile();
    // p's new service CIDR is routed by g's nodes; p's own NodeConfig does not change.
    expect(changed.written).toEqual(['g-a', 'g-b']);
    const conds = (await s.listClusters()).map((c) => c.status?.conditions?.[0]?.status);
    expect(conds).toEqual(['True', 'True']);
  });
});

describe('Controller (fake member cluster, real Redis store)', () => {
  it('GIVEN member Nodes THEN ClusterNodes <cluster>-<node> and the cluster status follow them, virtual and excluded nodes left out', async () => {
    const s = store();
    await s.putCluster({
      apiVersion: 'kosmos.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name: 'm' },
      spec: { clusterLinkOptions: { defaultNICName: 'eth0', serviceCIDRs: ['10.96.0.0/12'] } },
    });
    let nodes: Node[] = [
      {
        metadata: { name: 'w1' },
        spec: { podCIDRs: ['10.244.1.0/24'] },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }] },
      },
      {
        metadata: { name: 'w2' },
        spec: { podCIDRs: ['10.244.2.0/24'] },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.0.12' }] },
      },
      { metadata: { name: 'vk', labels: { 'kosmos.io/node': 'true' } } },
      { metadata: { name: 'ex', labels: { 'kosmos.io/exclude': 'true' } } },
    ];
    // A member that serves Nodes and none of the optional kinds (ServiceCIDR, Calico CRDs).
    const member = {
      list: async (_apiVersion: string, kind: string) => ({
        metadata: {},
        items: kind === 'Node' ? nodes : [],
      }),
    } as unknown as KubeClient;
    const c = new ClusterLinkController({ cluster: 'm', member, store: s, log });
    await c.reconcile();
    expect(
      (await s.listClusterNodes()).map((n) => [
        n.metadata.name,
        n.spec.ip,
        n.spec.interfaceName,
        n.spec.podCIDRs,
      ]),
    ).toEqual([
      ['m-w1', '192.168.0.11', 'eth0', ['10.244.1.0/24']],
      ['m-w2', '192.168.0.12', 'eth0', ['10.244.2.0/24']],
    ]);
    expect((await s.listClusters())[0]?.status?.clusterLinkStatus).toEqual({
      podCIDRs: ['10.244.1.0/24', '10.244.2.0/24'],
      serviceCIDRs: ['10.96.0.0/12'],
    });
    nodes = nodes.filter((n) => n.metadata?.name !== 'w2');
    await c.reconcile();
    expect((await s.listClusterNodes()).map((n) => n.metadata.name)).toEqual(['m-w1']);
  });
});
