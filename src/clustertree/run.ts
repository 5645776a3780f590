/**
 * One ClusterTree process: watches the host and every leaf, turns changes into BullMQ jobs,
 * and works jobs off the shared queue. Every process watches and enqueues; job ids carry the
 * object and the resourceVersion that caused them, so the same change seen by two processes
 * is one job, and two processes share the work without a leader (no election latency when
 * one dies; a killed worker's job is taken over when its lock expires). Redis is only the
 * work queue: on start, and whenever Redis comes back, every process re-enqueues every pod
 * it can see in the host and the leaves, so work lost with Redis is redone from the
 * apiservers' state.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Job } from 'bullmq';
import { ANNOTATION_GLOBAL, API_VERSION, FINALIZER_CLUSTER_MANAGER, LABEL_NODE } from '../api/constants.js';
import type { Node, Pod } from '../api/core.js';
import type { Cluster, ClusterPodConvertPolicy, PodConvertPolicy } from '../api/kinds.js';
import type { KubeObject } from '../api/meta.js';
import { clustersUsingSecret } from '../common/cluster-kubeconfig.js';
import { KubeClient } from '../common/kube.js';
import { createLogger, errorFields, logFailure } from '../common/logger.js';
import { createRegistry, observabilityRouter } from '../common/observability.js';
import { createRedis } from '../common/redis.js';
import { Informer } from './kube/informer.js';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_QUEUE_NAME, QUEUE_NAME, SERVICE_COPY_MANAGER } from './names.js';
import { KubeletAuth, readClientCa } from './node-server/auth.js';
import { startNodeServer } from './node-server/server.js';
import type { JobData } from './queue/jobs.js';
import { JobQueue } from './queue/queue.js';
import { podDependencies, type DependencyKind } from './transform/dependencies.js';
import { statusInSync } from './transform/status.js';
import { hostPodUpdated } from './transform/pod-update.js';
import { resizedClaimOwners } from './transform/volumes.js';
import { clusterOfNode, createMetrics, type ClusterTreeContext, type HostCaches } from './sync/context.js';
import { reconcileDependency, reconcileLeafVolume, usedInCluster } from './sync/dependency-sync.js';
import { LeafRegistry, servesCluster } from './sync/leaf-registry.js';
import { removeCluster, syncClusterNodes } from './sync/node-sync.js';
import { syncPod, syncPodStatus } from './sync/pod-sync.js';
import { reconcileServices } from './sync/service-sync.js';
import { LABEL_APP_MANAGED_BY } from '../mcs/constants.js';

export interface ClusterTreeOptions {
  kubeconfig: string;
  redisUrl: string;
  /** Kubelet API port of the virtual nodes (0: any free port). */
  nodeServerPort: number;
  /** Address the host apiserver dials for the kubelet API. */
  nodeAddress: string;
  /**
   * PEM file of the CA whose client certificates the kubelet API accepts (the host
   * apiserver's kubelet client CA); without it every kubelet API request is refused with 401.
   */
  clientCaFile?: string;
  /** /healthz /readyz /metrics (0: any free port). */
  port: number;
  concurrency: number;
  workerId: string;
  /** Re-enqueue every pod this often, as a safety net (ms). */
  resyncIntervalMs: number;
  /** BullMQ key prefix (tests use their own). */
  queuePrefix: string;
}

export interface ClusterTreeHandle {
  metricsPort: number;
  nodeServerPort: number;
  stop: () => Promise<void>;
}

const RESYNC_BUCKET_MS = 30_000;
/** Host PVCs seen at start are checked for missed resizes after the leaves have joined. */
const FIRST_SIGHT_DELAY_MS = 5_000;

export async function runClusterTree(opts: ClusterTreeOptions): Promise<ClusterTreeHandle> {
  const log = createLogger('clustertree', { worker: opts.workerId });
  const host = KubeClient.fromFile(opts.kubeconfig);
  const serverUrl = new URL(host.server);
  const registry = createRegistry('clustertree');
  const metrics = createMetrics(registry);
  const redis = createRedis(opts.redisUrl, 'background', {
    onError: (e) => log.debug('redis connection error', errorFields(e)),
  });
  const queue = new JobQueue(opts.redisUrl, log, QUEUE_NAME, opts.queuePrefix);
  const heartbeats = new JobQueue(opts.redisUrl, log, HEARTBEAT_QUEUE_NAME, opts.queuePrefix);

  // eslint-disable-next-line prefer-const -- assigned once everything it refers to exists
  let ctx: ClusterTreeContext;
  const enqueue = (data: JobData, cause: string, delay?: number) =>
    (data.type === 'node' || data.type === 'cluster-gone' ? heartbeats : queue).add(
      data,
      cause,
      delay ? { delay } : {},
    );

  const leaves = new LeafRegistry(
    host,
    log,
    (cluster) => ({
      onUpsert: (leafPod, old) => {
        const ns = leafPod.metadata?.namespace ?? '';
        const name = leafPod.metadata?.name ?? '';
        // The first pod of a namespace in this leaf makes the namespace's host Services wanted there.
        if (!old) servicesChanged(cluster, ns);
        const hostPod = ctx.caches.pods.get(ns, name);
        if (hostPod && statusInSync(hostPod, leafPod)) return;
        const rv = leafPod.metadata?.resourceVersion ?? 'x';
        enqueue({ type: 'status', cluster, namespace: ns, name, rv }, rv);
      },
      onDelete: (leafPod) => {
        const ns = leafPod.metadata?.namespace ?? '';
        const name = leafPod.metadata?.name ?? '';
        const rv = leafPod.metadata?.resourceVersion ?? 'x';
        enqueue({ type: 'pod', cluster, namespace: ns, name }, `leafgone-${rv}`);
        servicesChanged(cluster, ns);
        // Dependencies nobody uses any more are collected once the pod is really gone.
        for (const d of podDependencies(leafPod))
          enqueue(
            { type: 'deps', cluster, namespace: ns, kind: d.kind, name: d.leafName },
            `gc-${rv}`,
            1_000,
          );
      },
    }),
    (cluster) => ({
      // A leaf PVC copy changed status: the host PVC may show it (dependency-sync decides).
      onUpsert: (pvc, old) => {
        if (pvc.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true') return;
        const status = (o: KubeObject | undefined) =>
          JSON.stringify((o as { status?: unknown } | undefined)?.status);
        if (old && status(old) === status(pvc)) return;
        enqueue(
          {
            type: 'deps',
            cluster,
            namespace: pvc.metadata.namespace ?? '',
            kind: 'PersistentVolumeClaim',
            name: pvc.metadata.name ?? '',
          },
          `leafpvc-${pvc.metadata.resourceVersion ?? 'x'}`,
        );
      },
      // A leaf PVC gone: the PV copy it used may be unused now.
      onDelete: (pvc) => {
        const volume = (pvc as { spec?: { volumeName?: string } }).spec?.volumeName;
        if (volume) enqueue({ type: 'pv', cluster, name: volume }, `pvcgone-${pvc.metadata?.uid ?? 'x'}`);
      },
    }),
  );

  /**
   * The Service copies of (leaf, namespace) are looked at again, at most once a second: events
   * of the same second share one job, which runs after them (a rollout changes slices often).
   */
  const servicesChanged = (cluster: string, ns: string) =>
    enqueue({ type: 'services', cluster, namespace: ns }, `s${Math.floor(Date.now() / 1_000)}`, 1_000);
  const hostServiceChanged = (obj: KubeObject) => {
    const ns = obj.metadata?.namespace ?? '';
    for (const leaf of ctx.leaves.all())
      if (leaf.pods.list().some((p) => p.metadata?.namespace === ns)) servicesChanged(leaf.name, ns);
  };

  const hostPodChanged = (pod: Pod, old: Pod | undefined) => {
    const cluster = clusterOfNode(ctx, pod.spec.nodeName);
    if (!cluster) return;
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const rv = pod.metadata?.resourceVersion ?? 'x';
    const lifecycle =
      !old ||
      old.spec.nodeName !== pod.spec.nodeName ||
      old.metadata?.deletionTimestamp !== pod.metadata?.deletionTimestamp;
    // Labels, annotations, images, deadline or tolerations changed: the leaf pod follows.
    if (lifecycle || hostPodUpdated(old, pod)) {
      enqueue({ type: 'pod', cluster, namespace: ns, name, rv }, rv);
      return;
    }
    // Someone else changed the host status (the node lifecycle controller): restore the leaf's.
    const leafPod = ctx.leaves.get(cluster)?.pods.get(ns, name);
    if (leafPod && !statusInSync(pod, leafPod)) enqueue({ type: 'status', cluster, namespace: ns, name }, rv);
  };

  const dependencyChanged = (kind: DependencyKind) => (obj: KubeObject, deleted: boolean) => {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    for (const leaf of ctx.leaves.all()) {
      if (!deleted && !usedInCluster(ctx, leaf, ns, kind, name)) continue;
      enqueue(
        { type: 'deps', cluster: leaf.name, namespace: ns, kind, name },
        `${deleted ? 'del-' : ''}${obj.metadata?.resourceVersion ?? 'x'}`,
      );
    }
  };

  // A host PVC asks for another size (or is seen first, a resize may have been missed): each
  // cluster holding a copy looks again, once the leaves have had a moment to join.
  const hostClaimChanged = (pvc: KubeObject, old: KubeObject | undefined) => {
    for (const cluster of resizedClaimOwners(pvc, old))
      enqueue(
        {
          type: 'deps',
          cluster,
          namespace: pvc.metadata?.namespace ?? '',
          kind: 'PersistentVolumeClaim',
          name: pvc.metadata?.name ?? '',
        },
        pvc.metadata?.resourceVersion ?? 'x',
        old ? undefined : FIRST_SIGHT_DELAY_MS,
      );
  };

  const clusterChanged = async (c: Cluster): Promise<void> => {
    const name = c.metadata.name ?? '';
    if (!servesCluster(c)) {
      leaves.remove(name);
      if (c.metadata.deletionTimestamp || c.spec.clusterTreeOptions?.enable === false) {
        enqueue({ type: 'cluster-gone', cluster: name }, c.metadata.resourceVersion ?? 'x');
      }
      return;
    }
    if (!(c.metadata.finalizers ?? []).includes(FINALIZER_CLUSTER_MANAGER)) {
      await host
        .request(
          'PATCH',
          `/apis/${API_VERSION}/clusters/${encodeURIComponent(name)}`,
          {
            metadata: {
              resourceVersion: c.metadata.resourceVersion,
              finalizers: [...(c.metadata.finalizers ?? []), FINALIZER_CLUSTER_MANAGER],
            },
          },
          { contentType: 'application/merge-patch+json' },
        )
        .catch((e: unknown) => log.debug('finalizer not added yet', { cluster: name, ...errorFields(e) }));
    }
    await leaves.ensure(c);
    enqueue({ type: 'node', cluster: name }, `c${c.metadata.resourceVersion ?? 'x'}`);
  };

  const caches: HostCaches = {
    clusters: new Informer<Cluster>(
      host,
      { path: `/apis/${API_VERSION}/clusters` },
      {
        onUpsert: (c) => {
          clusterChanged(c).catch((e: unknown) => {
            log.warn('cannot join leaf cluster; retrying', { cluster: c.metadata.name, ...errorFields(e) });
            setTimeout(() => {
              const latest = caches.clusters.get(undefined, c.metadata.name ?? '');
              if (latest) void clusterChanged(latest).catch(() => undefined);
            }, 5_000).unref();
          });
        },
        onDelete: (c) => {
          leaves.remove(c.metadata.name ?? '');
          enqueue(
            { type: 'cluster-gone', cluster: c.metadata.name ?? '' },
            `deleted-${c.metadata.resourceVersion ?? 'x'}`,
          );
        },
      },
      log,
    ),
    nodes: new Informer<Node>(host, { path: '/api/v1/nodes', labelSelector: `${LABEL_NODE}=true` }, {}, log),
    pods: new Informer<Pod>(
      host,
      { path: '/api/v1/pods' },
      {
        onUpsert: hostPodChanged,
        onDelete: (pod) => {
          const cluster = clusterOfNode(ctx, pod.spec.nodeName);
          if (cluster)
            enqueue(
              {
                type: 'pod',
                cluster,
                namespace: pod.metadata?.namespace ?? '',
                name: pod.metadata?.name ?? '',
              },
              `gone-${pod.metadata?.uid ?? 'x'}`,
            );
        },
      },
      log,
    ),
    configMaps: new Informer<KubeObject>(
      host,
      { path: '/api/v1/configmaps' },
      {
        onUpsert: (o) => dependencyChanged('ConfigMap')(o, false),
        onDelete: (o) => dependencyChanged('ConfigMap')(o, true),
      },
      log,
    ),
    secrets: new Informer<KubeObject>(
      host,
      { path: '/api/v1/secrets' },
      {
        onUpsert: (o) => {
          dependencyChanged('Secret')(o, false);
          // A leaf's kubeconfig Secret rotated in place: its client follows the new credentials.
          const using = clustersUsingSecret(
            caches.clusters.store.values(),
            o.metadata?.namespace ?? '',
            o.metadata?.name ?? '',
          );
          for (const c of using)
            clusterChanged(c).catch((e: unknown) =>
              log.warn('cannot use the rotated leaf credentials', {
                cluster: c.metadata.name,
                ...errorFields(e),
              }),
            );
        },
        onDelete: (o) => dependencyChanged('Secret')(o, true),
      },
      log,
    ),
    serviceAccounts: new Informer<KubeObject>(
      host,
      { path: '/api/v1/serviceaccounts' },
      {
        onUpsert: (o) => dependencyChanged('ServiceAccount')(o, false),
        onDelete: (o) => dependencyChanged('ServiceAccount')(o, true),
      },
      log,
    ),
    persistentVolumeClaims: new Informer<KubeObject>(
      host,
      { path: '/api/v1/persistentvolumeclaims' },
      { onUpsert: hostClaimChanged },
      log,
    ),
    services: new Informer<KubeObject>(
      host,
      { path: '/api/v1/services' },
      { onUpsert: hostServiceChanged, onDelete: hostServiceChanged },
      log,
    ),
    endpointSlices: new Informer<KubeObject>(
      host,
      { path: '/apis/discovery.k8s.io/v1/endpointslices' },
      { onUpsert: hostServiceChanged, onDelete: hostServiceChanged },
      log,
    ),
    podConvertPolicies: new Informer<PodConvertPolicy>(
      host,
      { path: `/apis/${API_VERSION}/podconvertpolicies` },
      {},
      log,
    ),
    clusterPodConvertPolicies: new Informer<ClusterPodConvertPolicy>(
      host,
      { path: `/apis/${API_VERSION}/clusterpodconvertpolicies` },
      {},
      log,
    ),
  };

  const clientCa = opts.clientCaFile ? readClientCa(opts.clientCaFile) : undefined;
  if (!clientCa)
    log.warn(
      'no --client-ca-file: the kubelet API refuses every request, so kubectl logs and exec fail on virtual nodes',
    );
  const nodeServer = await startNodeServer(
    {
      host,
      auth: new KubeletAuth(host, clientCa),
      log,
      leafForNode: (nodeName) => {
        const cluster = clusterOfNode(ctx, nodeName);
        return cluster ? leaves.get(cluster)?.client : undefined;
      },
    },
    opts.nodeServerPort,
    [opts.nodeAddress, 'localhost'],
  );

  ctx = {
    host,
    caches,
    leaves,
    queue,
    redis,
    log,
    metrics,
    nodeServer: { address: opts.nodeAddress, port: nodeServer.port },
    hostApiserver: { host: serverUrl.hostname, port: Number(serverUrl.port || 443) },
    workerId: opts.workerId,
  };

  /** Every pod either side knows about, once more: the reconcile that makes a lost Redis lose nothing. */
  const resync = (why: string) => {
    const cause = `resync-${Math.floor(Date.now() / RESYNC_BUCKET_MS)}`;
    let n = 0;
    for (const p of caches.pods.list()) {
      const cluster = clusterOfNode(ctx, p.spec.nodeName);
      if (!cluster) continue;
      enqueue(
        { type: 'pod', cluster, namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' },
        cause,
      );
      n++;
    }
    for (const leaf of leaves.all()) {
      for (const p of leaf.pods.list()) {
        enqueue(
          {
            type: 'pod',
            cluster: leaf.name,
            namespace: p.metadata?.namespace ?? '',
            name: p.metadata?.name ?? '',
          },
          cause,
        );
        n++;
      }
      enqueue({ type: 'node', cluster: leaf.name }, cause);
      // Service copies: of every namespace the leaf runs pods of, and of every namespace it
      // has copies in (a removal missed while no worker ran).
      const namespaces = new Set(leaf.pods.list().map((p) => p.metadata?.namespace ?? ''));
      const routing = leaf.client
        .list<KubeObject>('v1', 'Service', {
          labelSelector: `${LABEL_APP_MANAGED_BY}=${SERVICE_COPY_MANAGER}`,
        })
        .then((l) => l.items.map((s) => s.metadata?.namespace ?? ''))
        .catch(() => [] as string[])
        .then((copies) => {
          for (const ns of new Set([...namespaces, ...copies]))
            enqueue({ type: 'services', cluster: leaf.name, namespace: ns }, cause);
        });
      logFailure(routing, log, 'routing Service copies');
    }
    log.info('re-enqueued every pod', { why, jobs: n });
  };

  // Nodes and convert policies first: pod events are only routed once virtual nodes are known.
  await Promise.all([
    caches.nodes.start(),
    caches.podConvertPolicies.start(),
    caches.clusterPodConvertPolicies.start(),
  ]);
  await Promise.all([
    caches.clusters.start(),
    caches.configMaps.start(),
    caches.secrets.start(),
    caches.serviceAccounts.start(),
    caches.persistentVolumeClaims.start(),
    caches.services.start(),
    caches.endpointSlices.start(),
  ]);
  await caches.pods.start();

  const handle = async (job: Job<JobData>): Promise<void> => {
    const d = job.data;
    const end = metrics.jobSeconds.startTimer({ type: d.type });
    try {
      switch (d.type) {
        case 'pod':
          await syncPod(ctx, d.cluster, d.namespace, d.name, d.rv);
          break;
        case 'status':
          await syncPodStatus(ctx, d.cluster, d.namespace, d.name, d.rv);
          break;
        case 'deps': {
          const leaf = leaves.get(d.cluster);
          if (leaf) await reconcileDependency(ctx, leaf, d.namespace, d.kind, d.name);
          break;
        }
        case 'pv': {
          const leaf = leaves.get(d.cluster);
          if (leaf) await reconcileLeafVolume(ctx, leaf, d.name);
          break;
        }
        case 'services': {
          const leaf = leaves.get(d.cluster);
          if (leaf) await reconcileServices(ctx, leaf, d.namespace);
          break;
        }
        case 'node':
          await syncClusterNodes(ctx, d.cluster);
          break;
        case 'cluster-gone':
          if (!leaves.get(d.cluster)) await removeCluster(ctx, d.cluster);
          break;
      }
      metrics.jobs.inc({ type: d.type, result: 'ok' });
    } catch (e) {
      metrics.jobs.inc({ type: d.type, result: 'error' });
      log.debug('job failed; BullMQ retries it', {
        job: job.id,
        attempt: job.attemptsMade + 1,
        ...errorFields(e),
      });
      throw e;
    } finally {
      end();
    }
  };
  queue.startWorker(opts.concurrency, handle);
  heartbeats.startWorker(Math.max(2, Math.ceil(opts.concurrency / 4)), handle);

  const beat = setInterval(() => {
    const bucket = `b${Math.floor(Date.now() / HEARTBEAT_INTERVAL_MS)}`;
    for (const leaf of leaves.all()) enqueue({ type: 'node', cluster: leaf.name }, bucket);
  }, HEARTBEAT_INTERVAL_MS / 2);
  const periodic = setInterval(() => resync('periodic'), opts.resyncIntervalMs);
  let redisWasDown = false;
  redis.on('close', () => (redisWasDown = true));
  redis.on('ready', () => {
    if (!redisWasDown) return;
    redisWasDown = false;
    // Give the queue connections a moment to reconnect too; enqueues before that are lost (and redone next resync).
    setTimeout(() => resync('redis reconnected'), 1_000).unref();
  });
  resync('start');

  const app = express();
  app.use(
    observabilityRouter(registry, [
      { name: 'host-watch', check: () => caches.pods.connected && caches.nodes.connected },
      { name: 'redis', check: () => redis.status === 'ready' },
    ]),
  );
  const httpServer = http.createServer(app);
  await new Promise<void>((r) => httpServer.listen(opts.port, '0.0.0.0', () => r()));
  log.info('clustertree running', {
    metricsPort: (httpServer.address() as AddressInfo).port,
    nodeServerPort: nodeServer.port,
    concurrency: opts.concurrency,
  });

  return {
    metricsPort: (httpServer.address() as AddressInfo).port,
    nodeServerPort: nodeServer.port,
    stop: async () => {
      clearInterval(beat);
      clearInterval(periodic);
      for (const inf of Object.values(caches) as Informer<KubeObject>[]) inf.stop();
      leaves.stop();
      await Promise.allSettled([queue.close(), heartbeats.close(), nodeServer.close()]);
      await new Promise((r) => httpServer.close(() => r(undefined)));
      redis.disconnect();
      host.close();
    },
  };
}
