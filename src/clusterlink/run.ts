/**
 * Long-running ClusterLink processes (agent, elector, network manager) wired to a Redis
 * store, shared by the kosmosctl commands and the lab. Each returns a stop function.
 */
import { createLogger } from '../common/logger.js';
import { Agent } from './agent/agent.js';
import { KernelHost } from './agent/kernel-host.js';
import { Elector } from './elector/elector.js';
import { NetworkManager } from './manager/network-manager.js';
import { RedisStore } from './store/redis-store.js';

export interface RedisTarget {
  redisUrl: string;
  /** Key prefix: several labs or test runs share one Redis without seeing each other. */
  prefix: string;
}

export type Stop = () => Promise<void>;

export async function runAgent(
  o: RedisTarget & { name: string; resyncMs?: number; elector?: { cluster: string } },
): Promise<Stop> {
  const log = createLogger('clusterlink-agent', { node: o.name });
  const store = new RedisStore(o.redisUrl, o.prefix);
  const host = new KernelHost();
  const agent = new Agent({
    name: o.name,
    store,
    host,
    log,
    ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}),
    bullmq: { connection: { url: o.redisUrl }, prefix: `${o.prefix}:bull` },
  });
  let elector: Elector | undefined;
  if (o.elector) {
    elector = new Elector({
      cluster: o.elector.cluster,
      nodeName: o.name,
      store,
      log: createLogger('clusterlink-elector', { node: o.name }),
    });
    await elector.start();
  }
  await agent.start();
  return async () => {
    await elector?.stop();
    await agent.stop();
    host.close();
    await store.close();
  };
}

export async function runElector(o: RedisTarget & { cluster: string; name: string }): Promise<Stop> {
  const store = new RedisStore(o.redisUrl, o.prefix);
  const elector = new Elector({
    cluster: o.cluster,
    nodeName: o.name,
    store,
    log: createLogger('clusterlink-elector', { node: o.name }),
  });
  await elector.start();
  return async () => {
    await elector.stop({ release: true });
    await store.close();
  };
}

export async function runNetworkManager(o: RedisTarget & { resyncMs?: number }): Promise<Stop> {
  const store = new RedisStore(o.redisUrl, o.prefix);
  const manager = new NetworkManager({
    store,
    ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}),
    log: createLogger('clusterlink-network-manager'),
    bullmq: { connection: { url: o.redisUrl }, prefix: `${o.prefix}:bull` },
  });
  await manager.start();
  return async () => {
    await manager.stop();
    await store.close();
  };
}

/** Keep a process alive until SIGTERM/SIGINT, then stop cleanly. */
export function untilSignal(stop: Stop): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
