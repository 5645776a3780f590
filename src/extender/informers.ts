/**
 * The list+watch sources of the extender (common/informer.ts), feeding the cache plain JSON
 * objects exactly as the apiserver sends them (timestamps as strings). The informers keep
 * only identities (kind, name, namespace, uid: all a delete needs), never whole objects: the
 * ExtenderCache keeps its own slim copies, and that is what keeps 50 000 pods cheap. As an
 * identity has no resourceVersion, a relist hands every listed object to the cache again.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../api/constants.js';
import type { KubeObject } from '../api/meta.js';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from '../api/core.js';
import type { Cluster, ClusterDistributionPolicy, DistributionPolicy, WorkloadPolicy } from '../api/kinds.js';
import { clusterKubeconfigText, kubeconfigDigest } from '../common/cluster-kubeconfig.js';
import { Informer, identityOf, withKind } from '../common/informer.js';
import { KubeClient, kubeConfigFromString } from '../common/kube.js';
import { errorFields, type Logger } from '../common/logger.js';
import type { ExtenderCache } from './cache.js';

export interface Handlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

/**
 * At most a few lists in flight per process: a start-up that lists 100 leaf clusters at once
 * grows the heap for the sake of a moment (and hammers the apiservers); queued lists cost
 * nothing.
 */
const MAX_LISTS = 4;
let listsInFlight = 0;
const listQueue: (() => void)[] = [];

async function withListSlot<R>(fn: () => Promise<R>): Promise<R> {
  if (listsInFlight >= MAX_LISTS) await new Promise<void>((r) => listQueue.push(r));
  listsInFlight++;
  try {
    return await fn();
  } finally {
    listsInFlight--;
    listQueue.shift()?.();
  }
}

/** One resource of one cluster kept in the cache. */
function source<T extends KubeObject>(
  client: KubeClient,
  path: string,
  h: Handlers<T>,
  log: Logger,
  opts: { transform?: (o: T) => T; fieldSelector?: string } = {},
): Informer<T> {
  return new Informer<T>(
    client,
    { path, slim: identityOf, listGate: withListSlot, ...opts },
    { onUpsert: (o) => h.upsert(o), onDelete: (o) => h.remove(o) },
    log.child({ source: path }),
  );
}

/** Reads a leaf cluster's kubeconfig text from its Cluster object (spec.kubeconfig or its Secret). */
export type LeafKubeconfigResolver = (cluster: Cluster) => Promise<string | undefined>;

export function clusterSpecKubeconfig(host: KubeClient): LeafKubeconfigResolver {
  return (cluster) => clusterKubeconfigText(host, cluster);
}

/**
 * How often the leaves' credentials are read again: a kubeconfig Secret rotated in place (the
 * Cluster unchanged) is picked up within this, without an extender restart.
 */
export const LEAF_CREDENTIALS_RECHECK_MS = 30_000;

export interface InformerOptions {
  host: KubeConfig;
  cache: ExtenderCache;
  log: Logger;
  /** How to reach each leaf cluster; default: the Cluster's own kubeconfig. */
  leafKubeconfig?: LeafKubeconfigResolver;
  /** Read member nodes and pods of leaf clusters (the fragmented-fit index). Default true. */
  watchLeafClusters?: boolean;
}

export interface Informers {
  /** True once nodes and pods of the host are listed (the extender can answer correctly). */
  synced(): boolean;
  stop(): void;
}

/** Every source the extender needs, feeding `cache`. */
export function startInformers(opts: InformerOptions): Informers {
  const { cache, log } = opts;
  const host = new KubeClient(opts.host);
  const sources: Informer<KubeObject>[] = [];
  const add = <T extends KubeObject>(path: string, h: Handlers<T>, transform?: (o: T) => T): Informer<T> => {
    const s = source<T>(host, path, h, log, transform ? { transform } : {});
    sources.push(s as unknown as Informer<KubeObject>);
    return s;
  };
  const nodes = add<Node>('/api/v1/nodes', {
    upsert: (n) => cache.upsertNode(n),
    remove: (n) => cache.deleteNode(n.metadata?.name ?? ''),
  });
  const pods = add<Pod>('/api/v1/pods', {
    upsert: (p) => cache.upsertPod(p),
    remove: (p) => cache.deletePod(p),
  });
  add<PersistentVolumeClaim>('/api/v1/persistentvolumeclaims', {
    upsert: (o) => cache.upsertPvc(o),
    remove: (o) => cache.deletePvc(o),
  });
  add<PersistentVolume>('/api/v1/persistentvolumes', {
    upsert: (o) => cache.upsertPv(o),
    remove: (o) => cache.deletePv(o),
  });
  const base = `/apis/${API_VERSION}`;
  add<DistributionPolicy>(
    `${base}/distributionpolicies`,
    { upsert: (o) => cache.upsertDistributionPolicy(o), remove: (o) => cache.deleteDistributionPolicy(o) },
    withKind(API_VERSION, 'DistributionPolicy'),
  );
  add<ClusterDistributionPolicy>(
    `${base}/clusterdistributionpolicies`,
    { upsert: (o) => cache.upsertDistributionPolicy(o), remove: (o) => cache.deleteDistributionPolicy(o) },
    withKind(API_VERSION, 'ClusterDistributionPolicy'),
  );
  add<WorkloadPolicy>(
    `${base}/workloadpolicies`,
    { upsert: (o) => cache.upsertWorkloadPolicy(o), remove: (o) => cache.deleteWorkloadPolicy(o) },
    withKind(API_VERSION, 'WorkloadPolicy'),
  );
  const leaves = new LeafSources(cache, log, opts.leafKubeconfig ?? clusterSpecKubeconfig(host));
  if (opts.watchLeafClusters !== false) {
    add<Cluster>(
      `${base}/clusters`,
      {
        upsert: (c) => {
          cache.upsertCluster(c);
          leaves
            .start(c)
            .catch((err: unknown) =>
              log.warn('cannot watch leaf cluster', { cluster: c.metadata.name, ...errorFields(err) }),
            );
        },
        remove: (c) => {
          leaves.stop(c.metadata.name ?? '');
          cache.deleteCluster(c);
        },
      },
      withKind(API_VERSION, 'Cluster'),
    );
  }
  for (const s of sources) void s.start();
  return {
    synced: () => nodes.synced && pods.synced,
    stop: () => {
      for (const s of sources) s.stop();
      leaves.stopAll();
      host.close();
    },
  };
}

/**
 * The member nodes and bound member pods of each leaf cluster (the fragmented-fit index). A
 * leaf's watches run with the credentials its Cluster names, told apart by their content: the
 * Cluster's events and a periodic re-read (LEAF_CREDENTIALS_RECHECK_MS) both compare them, so
 * a rotated Secret restarts the watches with the new credentials, and what the old watches had
 * seen but the new ones do not list is removed from the cache.
 */
export class LeafSources {
  private readonly leaves = new Map<
    string,
    { client: KubeClient; sources: Informer<KubeObject>[]; handlers: Handlers<KubeObject>[]; digest: string }
  >();
  /** The latest Cluster of each leaf, as the re-read uses it. */
  private readonly clusters = new Map<string, Cluster>();
  /** One start at a time per leaf: the re-read and an event never race to build two watches. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cache: ExtenderCache,
    private readonly log: Logger,
    private readonly kubeconfigOf: LeafKubeconfigResolver,
    recheckMs = LEAF_CREDENTIALS_RECHECK_MS,
  ) {
    if (recheckMs > 0) {
      this.timer = setInterval(() => {
        this.recheck().catch(() => undefined); // every leaf's failure is logged in recheck
      }, recheckMs);
      this.timer.unref();
    }
  }

  start(c: Cluster): Promise<void> {
    const name = c.metadata.name ?? '';
    this.clusters.set(name, c);
    const next = (this.pending.get(name) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.ensure(c));
    this.pending.set(name, next);
    void next
      .finally(() => {
        if (this.pending.get(name) === next) this.pending.delete(name);
      })
      .catch(() => undefined);
    return next;
  }

  /** Reads every leaf's credentials again (what the timer runs); a failure is logged per leaf. */
  async recheck(): Promise<void> {
    await Promise.all(
      [...this.clusters.values()].map((c) =>
        this.start(c).catch((err: unknown) =>
          this.log.warn('cannot read leaf cluster credentials', {
            cluster: c.metadata.name,
            ...errorFields(err),
          }),
        ),
      ),
    );
  }

  private async ensure(c: Cluster): Promise<void> {
    const name = c.metadata.name ?? '';
    if (this.clusters.get(name) !== c) return; // removed, or a newer Cluster is on its way
    const text = await this.kubeconfigOf(c);
    if (this.clusters.get(name) !== c) return;
    if (text === undefined) {
      this.stopSources(name);
      this.log.info('leaf cluster has no kubeconfig yet; fragmented fit skips it', { cluster: name });
      return;
    }
    const digest = kubeconfigDigest(text);
    const old = this.leaves.get(name);
    if (old?.digest === digest) return;
    const seen = old?.sources.map((s) => new Map(s.store)) ?? [];
    this.stopSources(name);
    const { cache } = this;
    const client = new KubeClient(kubeConfigFromString(text));
    const l = this.log.child({ cluster: name });
    const nodeHandlers: Handlers<Node> = {
      upsert: (n) => cache.upsertMemberNode(name, n),
      remove: (n) => cache.deleteMemberNode(name, n.metadata?.name ?? ''),
    };
    const podHandlers: Handlers<Pod> = {
      upsert: (p) => cache.upsertMemberPod(name, p),
      remove: (p) => cache.deleteMemberPod(name, p),
    };
    const memberNodes = source<Node>(client, '/api/v1/nodes', nodeHandlers, l);
    // Only pods on a node hold capacity; unbound member pods are not fetched at all.
    const memberPods = source<Pod>(client, '/api/v1/pods', podHandlers, l, {
      fieldSelector: 'spec.nodeName!=',
    });
    const sources = [memberNodes, memberPods] as unknown as Informer<KubeObject>[];
    const handlers = [nodeHandlers, podHandlers] as unknown as Handlers<KubeObject>[];
    this.leaves.set(name, { client, sources, handlers, digest });
    if (old) l.info('leaf cluster credentials changed; watching it with the new ones');
    sources.forEach((s, i) => {
      s.start()
        .then(() => {
          // What the old credentials' watch had seen and the new one's first list does not hold
          // is gone from the leaf (or was never there): the cache forgets it.
          for (const [key, obj] of seen[i] ?? []) if (!s.store.has(key)) handlers[i]?.remove(obj);
        })
        .catch((err: unknown) => l.warn('leaf watch did not start', errorFields(err)));
    });
  }

  stop(name: string): void {
    this.clusters.delete(name);
    this.stopSources(name);
  }

  private stopSources(name: string): void {
    const leaf = this.leaves.get(name);
    if (!leaf) return;
    for (const s of leaf.sources) s.stop();
    leaf.client.close();
    this.leaves.delete(name);
  }

  /** The leaves being watched, with the digest of the credentials each watch uses. */
  watched(): Map<string, string> {
    return new Map([...this.leaves].map(([name, l]) => [name, l.digest]));
  }

  stopAll(): void {
    if (this.timer) clearInterval(this.timer);
    for (const name of [...this.leaves.keys()]) this.stop(name);
    this.clusters.clear();
  }
}
