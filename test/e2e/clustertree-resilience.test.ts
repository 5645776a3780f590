/**
 * ClusterTree workers under failure: two worker processes on a Redis of this file's own,
 * which is killed during a burst, and a worker killed with SIGKILL mid-burst. Redis is only
 * the work queue, so nothing is lost and nothing is done twice.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KubeClient } from '../../src/common/kube.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/common/ports.js';
import { type TestRedis, startRedis as startOwnRedis } from '../support/redis-server.js';
import { eventually, kosmosctl, kubectl, newSandboxDir, sleep } from './harness.js';
import {
  applyJson,
  clientOf,
  clusterObject,
  counter,
  deployment,
  items,
  kubeconfigOf,
  listPods,
  ready,
  startWorker,
  stopWorker,
  type Worker,
} from './clustertree-helpers.js';

const dir = newSandboxDir('kosmos-e2e-clustertree-res-');
const HOST = kubeconfigOf(dir, 'host');
const LEAVES = [kubeconfigOf(dir, 'leaf-1'), kubeconfigOf(dir, 'leaf-2')];
const NS = 'burst';
let redisPort = 0;
let redis: TestRedis | undefined;
const workers: Worker[] = [];
let hostClient: KubeClient | undefined;
const leafClients: KubeClient[] = [];

/** Redis on a port of its own, restarted there after a kill so the workers reconnect to it. */
async function startRedis(): Promise<void> {
  redis = await startOwnRedis({ port: redisPort, own: true });
}

async function killRedis(): Promise<void> {
  await redis?.kill();
}

async function leafPodCount(app: string): Promise<number> {
  let n = 0;
  for (const c of leafClients) n += (await listPods(c, NS, `app=${app}`)).length;
  return n;
}

async function allSynced(app: string, n: number): Promise<void> {
  await eventually(
    async () => {
      const host = await listPods(hostClient!, NS, `app=${app}`);
      const running = host.filter((p) => p.status?.phase === 'Running').length;
      const inLeaves = await leafPodCount(app);
      if (host.length !== n || running !== n || inLeaves !== n)
        throw new Error(`host ${host.length} (${running} Running), leaves ${inLeaves}`);
    },
    240_000,
    2_000,
  );
}

describe('ClusterTree workers', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    redisPort = await freePort();
    await startRedis();
    const url = `redis://127.0.0.1:${redisPort}`;
    workers.push(await startWorker(dir, 'res-1', url), await startWorker(dir, 'res-2', url));
    hostClient = clientOf(HOST);
    leafClients.push(...LEAVES.map(clientOf));
    expect(kubectl(HOST, ['create', 'namespace', NS]).code).toBe(0);
    applyJson(HOST, clusterObject(dir, 'leaf-1'));
    applyJson(HOST, clusterObject(dir, 'leaf-2'));
    await eventually(() => {
      const nodes = items(HOST, ['nodes', '-l', 'kosmos.io/node=true']);
      if (nodes.length !== 2 || nodes.some((n) => ready(n) !== 'True'))
        throw new Error('virtual nodes not Ready');
    });
  });

  afterAll(async () => {
    for (const w of workers) await stopWorker(w);
    for (const c of [hostClient, ...leafClients]) c?.close();
    await killRedis();
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('Redis killed during a 200-pod burst and restarted: all 200 pods are synced, each leaf pod created exactly once, by two workers sharing the load', async () => {
    applyJson(HOST, deployment('burst', NS, 200, { 'kosmos.io/node': 'true' }));
    await eventually(
      async () => {
        if ((await leafPodCount('burst')) < 20) throw new Error('burst not under way');
      },
      60_000,
      250,
    );
    await killRedis();
    await sleep(3_000);
    await startRedis();
    await allSynced('burst', 200);
    const created = await Promise.all(workers.map((w) => counter(w, 'clustertree_leaf_pods_created_total')));
    expect(created.reduce((a, b) => a + b, 0)).toBe(200);
    const removed = await Promise.all(workers.map((w) => counter(w, 'clustertree_host_pods_removed_total')));
    expect(removed).toEqual([0, 0]);
    const jobs = await Promise.all(workers.map((w) => counter(w, 'clustertree_jobs_total')));
    for (const j of jobs) expect(j).toBeGreaterThan(0);
  }, 300_000);

  it('a worker killed with SIGKILL mid-burst loses nothing: the other finishes its jobs', async () => {
    applyJson(HOST, deployment('killed', NS, 60, { 'kosmos.io/node': 'true' }));
    await eventually(
      async () => {
        if ((await leafPodCount('killed')) < 5) throw new Error('burst not under way');
      },
      60_000,
      100,
    );
    await stopWorker(workers[0], 'SIGKILL');
    await allSynced('killed', 60);
    expect(await counter(workers[1] as Worker, 'clustertree_host_pods_removed_total')).toBe(0);
  }, 300_000);
});
