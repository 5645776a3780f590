/**
 * List+watch sources that hand plain JSON objects (exactly as the apiserver sends them,
 * timestamps as strings) to the cache. The list is a raw HTTPS GET with the kubeconfig's
 * credentials, and the watch is client-node's Watch, which already yields parsed JSON; the
 * typed APIs are avoided on purpose because they turn objects into model classes with Date
 * fields. No object cache is kept here (the ExtenderCache keeps slim copies), which is what
 * keeps 50 000 pods cheap.
 */
import http from 'node:http';
import https from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { API_VERSION } from '../api/constants.js';
import type { KubeObject } from '../api/meta.js';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from '../api/core.js';
import type { Cluster, ClusterDistributionPolicy, DistributionPolicy, WorkloadPolicy } from '../api/kinds.js';
import { KosmosError } from '../common/errors.js';
import { errorFields, type Logger } from '../common/logger.js';
import type { ExtenderCache } from './cache.js';

export interface Handlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

interface ListBody<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

class HttpStatusError extends KosmosError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** GET a path with the kubeconfig's server, CA and credentials; plain JSON back. */
export async function rawGet<T>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string> = {},
): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KosmosError('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const mod = url.protocol === 'https:' ? https : http;
  return await new Promise<T>((resolve, reject) => {
    const req = mod.request(
      url,
      {
        ...opts,
        method: 'GET',
        headers: { ...(opts.headers ?? {}), Accept: 'application/json' },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new HttpStatusError(status, `GET ${path}: HTTP ${status} ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(new KosmosError(`GET ${path}: response is not JSON`, { cause: err }));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new KosmosError(`GET ${path}: timed out`)));
    req.on('error', (err) =>
      reject(new KosmosError(`GET ${url.origin}${path}: ${err.message}`, { cause: err })),
    );
    req.end();
  });
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

function objKey(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/**
 * One resource kept in sync: list, then watch from the list's resourceVersion; on any
 * watch end re-watch, on 410 Gone (or errors) re-list, deleting what disappeared meanwhile.
 */
export class ResourceSource<T extends KubeObject> {
  /** key ("namespace/name") → uid of every object the handlers hold: all a delete needs. */
  private known = new Map<string, string>();
  private rv = '';
  private stopped = false;
  private abort: { abort(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  synced = false;
  /** Set when the resource does not exist on the server (CRD not installed): retried slowly. */
  missing = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly handlers: Handlers<T>,
    private readonly log: Logger,
    private readonly prepare: (obj: T) => T = (o) => o,
    private readonly query: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    await this.relist();
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      fn().catch((err: unknown) => this.log.warn('source error', { path: this.path, ...errorFields(err) }));
    }, ms);
    this.timer.unref();
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      // Only identities are kept while paging, never the page objects themselves.
      const seen = new Map<string, string>();
      let cont = '';
      let rv = '';
      do {
        const page = cont;
        // Pages of 500 keep each response (and its parse) small.
        const body = await withListSlot(() =>
          rawGet<ListBody<T>>(this.kc, this.path, {
            ...this.query,
            limit: '500',
            ...(page ? { continue: page } : {}),
          }),
        );
        for (const raw of body.items ?? []) {
          const obj = this.prepare(raw);
          seen.set(objKey(obj), obj.metadata?.uid ?? '');
          this.handlers.upsert(obj);
        }
        cont = body.metadata?.continue ?? '';
        rv = body.metadata?.resourceVersion ?? rv;
      } while (cont);
      for (const [k, uid] of this.known) if (!seen.has(k)) this.handlers.remove(this.identity(k, uid));
      this.known = seen;
      this.rv = rv;
      this.synced = true;
      this.missing = false;
      await this.watch();
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) {
        this.missing = true;
        this.synced = true; // nothing to wait for: the kind is not installed
        this.schedule(() => this.relist(), 30_000);
        return;
      }
      this.log.warn('list failed; retrying', { path: this.path, ...errorFields(err) });
      this.schedule(() => this.relist(), 2_000);
    }
  }

  /** A stand-in object for a delete: kind (via prepare) and identity. */
  private identity(key: string, uid: string): T {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    return this.prepare({
      metadata: { name: key.slice(slash + 1), ...(namespace ? { namespace } : {}), ...(uid ? { uid } : {}) },
    } as T);
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const w = new Watch(this.kc);
    this.abort = await w.watch(
      this.path,
      { ...this.query, resourceVersion: this.rv, allowWatchBookmarks: true },
      (type: string, raw: unknown) => {
        const obj = raw as T & { code?: number; metadata?: { resourceVersion?: string } };
        if (type === 'ERROR') {
          this.rv = ''; // 410 Gone or similar: the next round re-lists
          return;
        }
        if (obj.metadata?.resourceVersion) this.rv = obj.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        const prepared = this.prepare(obj);
        if (type === 'DELETED') {
          this.known.delete(objKey(prepared));
          this.handlers.remove(prepared);
        } else {
          this.known.set(objKey(prepared), prepared.metadata?.uid ?? '');
          this.handlers.upsert(prepared);
        }
      },
      (err: unknown) => {
        if (this.stopped) return;
        if (err) this.log.debug('watch ended', { path: this.path, ...errorFields(err) });
        if (!this.rv || err) this.schedule(() => this.relist(), err ? 1_000 : 0);
        else this.schedule(() => this.watch(), 0);
      },
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }
}

function kind<T extends KubeObject>(k: string, apiVersion: string): (o: T) => T {
  return (o) => ({ ...o, kind: k, apiVersion });
}

/** Reads a leaf cluster's kubeconfig from its Cluster object (spec.kubeconfig, base64). */
export type LeafKubeconfigResolver = (cluster: Cluster) => Promise<KubeConfig | undefined>;

export function clusterSpecKubeconfig(host: KubeConfig): LeafKubeconfigResolver {
  return async (cluster) => {
    let text: string | undefined;
    if (cluster.spec.kubeconfig) text = Buffer.from(cluster.spec.kubeconfig, 'base64').toString('utf8');
    else if (cluster.spec.kubeconfigSecretRef) {
      const ref = cluster.spec.kubeconfigSecretRef;
      const secret = await rawGet<{ data?: Record<string, string> }>(
        host,
        `/api/v1/namespaces/${ref.namespace ?? 'kosmos-system'}/secrets/${ref.name}`,
      );
      const data = secret.data?.[ref.key ?? 'kubeconfig'];
      if (data) text = Buffer.from(data, 'base64').toString('utf8');
    }
    if (!text) return undefined;
    const kc = new KubeConfig();
    kc.loadFromString(text);
    return kc;
  };
}

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
  const { host, cache, log } = opts;
  const sources: ResourceSource<KubeObject>[] = [];
  const add = <T extends KubeObject>(
    path: string,
    h: Handlers<T>,
    prepare?: (o: T) => T,
    query?: Record<string, string>,
  ): ResourceSource<T> => {
    const s = new ResourceSource<T>(host, path, h, log.child({ source: path }), prepare, query);
    sources.push(s as unknown as ResourceSource<KubeObject>);
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
    kind('DistributionPolicy', API_VERSION),
  );
  add<ClusterDistributionPolicy>(
    `${base}/clusterdistributionpolicies`,
    { upsert: (o) => cache.upsertDistributionPolicy(o), remove: (o) => cache.deleteDistributionPolicy(o) },
    kind('ClusterDistributionPolicy', API_VERSION),
  );
  add<WorkloadPolicy>(
    `${base}/workloadpolicies`,
    { upsert: (o) => cache.upsertWorkloadPolicy(o), remove: (o) => cache.deleteWorkloadPolicy(o) },
    kind('WorkloadPolicy', API_VERSION),
  );

  const leaves = new Map<string, { sources: ResourceSource<KubeObject>[]; version: string }>();
  const stopLeaf = (name: string): void => {
    for (const s of leaves.get(name)?.sources ?? []) s.stop();
    leaves.delete(name);
  };
  const startLeaf = async (c: Cluster): Promise<void> => {
    const name = c.metadata.name ?? '';
    const version = `${c.spec.kubeconfig ?? ''}|${JSON.stringify(c.spec.kubeconfigSecretRef ?? {})}`;
    if (leaves.get(name)?.version === version) return;
    stopLeaf(name);
    const kc = await (opts.leafKubeconfig ?? clusterSpecKubeconfig(host))(c);
    if (!kc) {
      log.info('leaf cluster has no kubeconfig yet; fragmented fit skips it', { cluster: name });
      return;
    }
    const l = log.child({ cluster: name });
    const memberNodes = new ResourceSource<Node>(
      kc,
      '/api/v1/nodes',
      {
        upsert: (n) => cache.upsertMemberNode(name, n),
        remove: (n) => cache.deleteMemberNode(name, n.metadata?.name ?? ''),
      },
      l,
    );
    // Only pods on a node hold capacity; unbound member pods are not fetched at all.
    const memberPods = new ResourceSource<Pod>(
      kc,
      '/api/v1/pods',
      {
        upsert: (p) => cache.upsertMemberPod(name, p),
        remove: (p) => cache.deleteMemberPod(name, p),
      },
      l,
      undefined,
      { fieldSelector: 'spec.nodeName!=' },
    );
    leaves.set(name, {
      sources: [memberNodes, memberPods] as unknown as ResourceSource<KubeObject>[],
      version,
    });
    void memberNodes.start();
    void memberPods.start();
  };
  if (opts.watchLeafClusters !== false) {
    add<Cluster>(
      `${base}/clusters`,
      {
        upsert: (c) => {
          cache.upsertCluster(c);
          startLeaf(c).catch((err: unknown) =>
            log.warn('cannot watch leaf cluster', { cluster: c.metadata.name, ...errorFields(err) }),
          );
        },
        remove: (c) => {
          stopLeaf(c.metadata.name ?? '');
          cache.deleteCluster(c);
        },
      },
      kind('Cluster', API_VERSION),
    );
  }
  for (const s of sources) void s.start();
  return {
    synced: () => nodes.synced && pods.synced,
    stop: () => {
      for (const s of sources) s.stop();
      for (const n of [...leaves.keys()]) stopLeaf(n);
    },
  };
}
