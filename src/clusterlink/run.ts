/**
 * Long-running ClusterLink processes (agent, elector, network manager, controller), shared by
 * the kosmosctl commands and the lab. Each returns a stop function.
 *
 * Two stores: Redis (the lab, the integration tests) and Kubernetes (production: the kosmos.io
 * CRs and Leases of the host cluster). BullMQ nudges need Redis; with a kubeconfig and a Redis
 * URL both, state is in Kubernetes and Redis only carries the nudges, and with a kubeconfig
 * alone the agent relies on its NodeConfig watch (and the periodic resync).
 */
import { createServer, type Server } from 'node:http';
import { createLogger } from '../common/logger.js';
import { Agent } from './agent/agent.js';
import { KernelHost } from './agent/kernel-host.js';
import { Elector } from './elector/elector.js';
import { NetworkManager } from './manager/network-manager.js';
import { RedisStore } from './store/redis-store.js';
import type { Store } from './store/types.js';

/**
 * The Kubernetes client is loaded only in Kubernetes mode: the lab runs these daemons from the
 * TypeScript sources with Node's type stripping, which common/kube.ts (parameter properties)
 * does not pass.
 */
const kube = async () => {
  const [{ KubeClient }, { KubeStore }] = await Promise.all([
    import('../common/kube.js'),
    import('./store/kube-store.js'),
  ]);
  return { KubeClient, KubeStore };
};

export interface RedisTarget {
  redisUrl: string;
  /** Key prefix: several labs or test runs share one Redis without seeing each other. */
  prefix: string;
}

export interface KubeTarget {
  /** Kubeconfig of the host cluster, which holds the kosmos.io objects and the Leases. */
  kubeconfig: string;
  /** Namespace of the gateway Leases (kosmos-system by default). */
  leaseNamespace?: string;
  /** Optional: Redis for BullMQ nudges only. */
  redisUrl?: string;
  prefix?: string;
}

export type StoreTarget = RedisTarget | KubeTarget;

/** Where a daemon answers GET /healthz (the sandbox and kubelet probes). */
export interface HealthOption {
  healthPort?: number;
}

export type Stop = () => Promise<void>;

interface Opened {
  store: Store;
  bullmq?: { connection: { url: string }; prefix: string };
  close(): Promise<void>;
}

const isKube = (t: StoreTarget): t is KubeTarget => 'kubeconfig' in t && typeof t.kubeconfig === 'string';

async function openStore(t: StoreTarget): Promise<Opened> {
  const prefix = t.prefix ?? 'kosmos:clusterlink';
  const bullmq = t.redisUrl ? { connection: { url: t.redisUrl }, prefix: `${prefix}:bull` } : undefined;
  if (isKube(t)) {
    const { KubeClient, KubeStore } = await kube();
    const client = KubeClient.fromFile(t.kubeconfig);
    const store = new KubeStore(client, t.leaseNamespace ? { leaseNamespace: t.leaseNamespace } : {});
    return {
      store,
      ...(bullmq ? { bullmq } : {}),
      close: async () => {
        await store.close();
        client.close();
      },
    };
  }
  const store = new RedisStore(t.redisUrl, t.prefix);
  return { store, ...(bullmq ? { bullmq } : {}), close: () => store.close() };
}

/** A bare GET /healthz on loopback: the process is up and its first pass has run. */
async function serveHealth(port: number | undefined): Promise<Server | undefined> {
  if (!port) return undefined;
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' || req.url === '/readyz' ? 200 : 404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

const closeServer = (s: Server | undefined) =>
  new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));

export async function runAgent(
  o: StoreTarget &
    HealthOption & {
      name: string;
      resyncMs?: number;
      elector?: { cluster: string };
      nodeIPs?: string[];
      /** See KernelHostOptions. */
      sysctlRoot?: string;
      rpFilterDevices?: string[];
    },
): Promise<Stop> {
  const log = createLogger('clusterlink-agent', { node: o.name });
  const { store, bullmq, close } = await openStore(o);
  const host = new KernelHost({
    ...(o.sysctlRoot ? { sysctlRoot: o.sysctlRoot } : {}),
    ...(o.rpFilterDevices ? { rpFilterDevices: o.rpFilterDevices } : {}),
  });
  const agent = new Agent({
    name: o.name,
    store,
    host,
    log,
    ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}),
    ...(o.nodeIPs ? { nodeIPs: o.nodeIPs } : {}),
    ...(bullmq ? { bullmq } : {}),
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
  const health = await serveHealth(o.healthPort);
  return async () => {
    await closeServer(health);
    await elector?.stop();
    await agent.stop();
    host.close();
    await close();
  };
}

export async function runElector(
  o: StoreTarget & HealthOption & { cluster: string; name: string },
): Promise<Stop> {
  const { store, close } = await openStore(o);
  const elector = new Elector({
    cluster: o.cluster,
    nodeName: o.name,
    store,
    log: createLogger('clusterlink-elector', { node: o.name }),
  });
  await elector.start();
  const health = await serveHealth(o.healthPort);
  return async () => {
    await closeServer(health);
    await elector.stop({ release: true });
    await close();
  };
}

export async function runNetworkManager(
  o: StoreTarget & HealthOption & { resyncMs?: number },
): Promise<Stop> {
  const { store, bullmq, close } = await openStore(o);
  const manager = new NetworkManager({
    store,
    ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}),
    log: createLogger('clusterlink-network-manager'),
    ...(bullmq ? { bullmq } : {}),
  });
  await manager.start();
  const health = await serveHealth(o.healthPort);
  return async () => {
    await closeServer(health);
    await manager.stop();
    await close();
  };
}

/**
 * The per-cluster controller in the host's kubeconfig: for one cluster (`cluster`, its
 * member client from `memberKubeconfig`, else from its Cluster object) or, without
 * `cluster`, for every Cluster that has clusterLinkOptions.
 */
export async function runController(
  o: KubeTarget & HealthOption & { cluster?: string; memberKubeconfig?: string; periodMs?: number },
): Promise<Stop> {
  const log = createLogger('clusterlink-controller');
  const [{ KubeClient, KubeStore }, { ClusterLinkController }, { ClusterLinkMembers }] = await Promise.all([
    kube(),
    import('./controller/controller.js'),
    import('./controller/members.js'),
  ]);
  const host = KubeClient.fromFile(o.kubeconfig);
  const store = new KubeStore(host);
  let stopRun: () => Promise<void>;
  if (o.cluster && o.memberKubeconfig) {
    const member = KubeClient.fromFile(o.memberKubeconfig);
    const controller = new ClusterLinkController({
      cluster: o.cluster,
      member,
      store,
      log: log.child({ cluster: o.cluster }),
      ...(o.periodMs ? { periodMs: o.periodMs } : {}),
    });
    await controller.start();
    stopRun = async () => {
      controller.stop();
      member.close();
    };
  } else {
    const members = new ClusterLinkMembers({
      host,
      store,
      log,
      ...(o.periodMs ? { periodMs: o.periodMs } : {}),
      ...(o.cluster ? { only: o.cluster } : {}),
    });
    await members.start();
    stopRun = () => members.stop();
  }
  const health = await serveHealth(o.healthPort);
  return async () => {
    await closeServer(health);
    await stopRun();
    await store.close();
    host.close();
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
