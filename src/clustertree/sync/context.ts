/** What every ClusterTree job handler can use: clients, watch caches, the queue, metrics. */
import type { Redis } from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';
import { ANNOTATION_OWNED_BY_CLUSTER } from '../../api/constants.js';
import type { Node, Pod } from '../../api/core.js';
import type { Cluster, ClusterPodConvertPolicy, PodConvertPolicy } from '../../api/kinds.js';
import type { KubeObject } from '../../api/meta.js';
import type { KubeClient } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import type { Informer } from '../kube/informer.js';
import type { JobQueue } from '../queue/queue.js';
import type { LeafRegistry } from './leaf-registry.js';

export interface Metrics {
  jobs: Counter<'type' | 'result'>;
  jobSeconds: Histogram<'type'>;
  leafPodsCreated: Counter<'cluster'>;
  hostPodsRemoved: Counter<'cluster' | 'reason'>;
}

export function createMetrics(registry: Registry): Metrics {
  return {
    jobs: new Counter({
      name: 'clustertree_jobs_total',
      help: 'Jobs handled',
      labelNames: ['type', 'result'],
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: 'clustertree_job_seconds',
      help: 'Job handling time',
      labelNames: ['type'],
      buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    leafPodsCreated: new Counter({
      name: 'clustertree_leaf_pods_created_total',
      help: 'Leaf pods this process created (AlreadyExists not counted)',
      labelNames: ['cluster'],
      registers: [registry],
    }),
    hostPodsRemoved: new Counter({
      name: 'clustertree_host_pods_removed_total',
      help: 'Host pods this process force-deleted after their leaf pod went away',
      labelNames: ['cluster', 'reason'],
      registers: [registry],
    }),
  };
}

export interface HostCaches {
  clusters: Informer<Cluster>;
  pods: Informer<Pod>;
  /** Virtual nodes (kosmos.io/node=true). */
  nodes: Informer<Node>;
  configMaps: Informer<KubeObject>;
  secrets: Informer<KubeObject>;
  serviceAccounts: Informer<KubeObject>;
  /** Only to notice resizes: handlers read PVCs from the apiserver. */
  persistentVolumeClaims: Informer<KubeObject>;
  /** Copied, with their EndpointSlices, into leaves that run pods of their namespace. */
  services: Informer<KubeObject>;
  endpointSlices: Informer<KubeObject>;
  podConvertPolicies: Informer<PodConvertPolicy>;
  clusterPodConvertPolicies: Informer<ClusterPodConvertPolicy>;
}

export interface ClusterTreeContext {
  host: KubeClient;
  caches: HostCaches;
  leaves: LeafRegistry;
  queue: JobQueue;
  redis: Redis;
  log: Logger;
  metrics: Metrics;
  /** Where the host apiserver dials this process's kubelet API, and where leaf pods reach the host apiserver. */
  nodeServer: { address: string; port: number };
  hostApiserver: { host: string; port: number };
  workerId: string;
}

/** The leaf cluster a host node stands for, if it is one of our virtual nodes. */
export function clusterOfNode(ctx: ClusterTreeContext, nodeName: string | undefined): string | undefined {
  if (!nodeName) return undefined;
  return ctx.caches.nodes.get(undefined, nodeName)?.metadata?.annotations?.[ANNOTATION_OWNED_BY_CLUSTER];
}
