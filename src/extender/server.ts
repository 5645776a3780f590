/**
 * startExtender: the whole extender as one call, for the CLI, the sandbox and e2e tests.
 * Wires the cache, informers (when given a kubeconfig), the reservation store (Redis when
 * given a URL, memory otherwise), the binder and event recorder, and an HTTP(S) server.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { Express } from 'express';
import { createLogger, type Logger } from '../common/logger.js';
import { createExtenderApp } from './app.js';
import { ExtenderCache } from './cache.js';
import { EXTENDER_REDIS_PREFIX } from './defaults.js';
import { startInformers, type Informers, type LeafKubeconfigResolver } from './informers.js';
import { KubeClient } from '../common/kube.js';
import { startDeletionCostWriter } from './deletion-cost-writer.js';
import { KubeBinder, KubeEventRecorder, type EventRecorder, type PodBinder } from './kube-adapters.js';
import { DEFAULT_OPTIONS, type PlacementOptions } from './placement/engine.js';
import { MemoryReservationStore } from './reservations/memory-store.js';
import { RedisReservationStore } from './reservations/redis-store.js';
import { RedisHoldStore } from './reservations/redis-hold-store.js';
import { MemoryHoldStore, type HoldStore } from './reservations/hold-store.js';
import type { ReservationStore } from './reservations/store.js';
import { loadTls, type TlsOptions } from './tls.js';

export interface StartExtenderOptions {
  /** 0 (default) picks a free port; the sandbox uses 10262, the URL in config/scheduler-config.yaml. */
  port?: number;
  host?: string;
  /** Host cluster: a KubeConfig or a kubeconfig file path. Without it no informers run and nothing can bind. */
  kubeconfig?: KubeConfig | string;
  /** How to reach leaf clusters; default: each Cluster's spec.kubeconfig / kubeconfigSecretRef. */
  leafKubeconfig?: LeafKubeconfigResolver;
  /** Read leaf clusters' member nodes and pods for fragmented fit (default true with a kubeconfig). */
  watchLeafClusters?: boolean;
  /** Shared reservations across replicas; without it reservations live in this process. */
  redisUrl?: string;
  redisPrefix?: string;
  tls?: TlsOptions;
  placement?: Partial<PlacementOptions>;
  reservationTtlMs?: number;
  boundTtlMs?: number;
  logger?: Logger;
  /** Injection points for tests and benches. */
  cache?: ExtenderCache;
  store?: ReservationStore;
  holds?: HoldStore;
  binder?: PodBinder;
  events?: EventRecorder;
}

export interface RunningExtender {
  /** Base URL, e.g. http://127.0.0.1:10262 (append /filter, /prioritize, /bind). */
  url: string;
  port: number;
  cache: ExtenderCache;
  app: Express;
  /** True once host nodes and pods are listed. */
  synced(): boolean;
  close(): Promise<void>;
}

export async function startExtender(options: StartExtenderOptions = {}): Promise<RunningExtender> {
  const log = options.logger ?? createLogger('extender');
  const cache =
    options.cache ?? new ExtenderCache({ hostCapacity: options.placement?.preference === 'capacity' });
  let kc: KubeConfig | undefined;
  if (typeof options.kubeconfig === 'string') {
    kc = new KubeConfig();
    kc.loadFromFile(options.kubeconfig);
  } else kc = options.kubeconfig;

  const store =
    options.store ??
    (options.redisUrl
      ? new RedisReservationStore({
          url: options.redisUrl,
          prefix: options.redisPrefix ?? EXTENDER_REDIS_PREFIX,
        })
      : new MemoryReservationStore());
  const holds =
    options.holds ??
    (options.redisUrl
      ? new RedisHoldStore({ url: options.redisUrl, prefix: options.redisPrefix ?? EXTENDER_REDIS_PREFIX })
      : new MemoryHoldStore());
  let informers: Informers | undefined;
  if (kc) {
    informers = startInformers({
      host: kc,
      cache,
      log,
      ...(options.leafKubeconfig ? { leafKubeconfig: options.leafKubeconfig } : {}),
      ...(options.watchLeafClusters !== undefined ? { watchLeafClusters: options.watchLeafClusters } : {}),
    });
  }
  const client = kc ? new KubeClient(kc) : undefined;
  const binder = options.binder ?? (client ? new KubeBinder(client) : undefined);
  // Scale-downs keep WorkloadPolicy ratios through pod-deletion-cost (needs the apiserver).
  const costs = client ? startDeletionCostWriter({ cache, client, log }) : undefined;
  const events =
    options.events ??
    (kc
      ? new KubeEventRecorder(client ?? kc, (err) => log.warn('event not recorded', { error: String(err) }))
      : undefined);
  const synced = (): boolean => informers?.synced() ?? true;

  const { app } = createExtenderApp({
    cache,
    store,
    holds,
    ...(binder ? { binder } : {}),
    ...(events ? { events } : {}),
    logger: log,
    placement: { ...DEFAULT_OPTIONS, ...options.placement },
    ...(options.reservationTtlMs !== undefined ? { reservationTtlMs: options.reservationTtlMs } : {}),
    ...(options.boundTtlMs !== undefined ? { boundTtlMs: options.boundTtlMs } : {}),
    readiness: [
      { name: 'informers-synced', check: synced },
      ...(store instanceof RedisReservationStore ? [{ name: 'redis', check: () => store.ping() }] : []),
    ],
  });

  const server = options.tls ? https.createServer(loadTls(options.tls), app) : http.createServer(app);
  // kube-scheduler (Go, 90 s idle timeout) reuses connections: close idle ones only after it does.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${options.tls ? 'https' : 'http'}://${hostPart}:${addr.port}`;
  log.info('extender listening', { url, informers: !!kc, redis: !!options.redisUrl });

  return {
    url,
    port: addr.port,
    cache,
    app,
    synced,
    close: async () => {
      informers?.stop();
      costs?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (!options.store) await store.close();
      if (!options.holds) await holds.close();
      client?.close();
    },
  };
}
