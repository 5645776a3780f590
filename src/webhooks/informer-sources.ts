/**
 * PolicySource and ClusterSource backed by list+watch informers of @kubernetes/client-node.
 * CustomObjectsApi does not deserialize custom objects into model classes and the watch
 * yields JSON.parse output, so the cached objects are plain JSON exactly as the apiserver
 * sent them (timestamps stay strings), which is what the pure resolver and validators read.
 *
 * On a watch error client-node stops the informer; we restart it with capped backoff and
 * keep answering from the last state meanwhile (a slightly stale policy set beats refusing
 * to mutate at all, and pod webhooks fail open anyway).
 */
import {
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/constants.js';
import { kindInfo, type Cluster, type KindName } from '../api/kinds.js';
import type { PolicyObject } from '../common/distribution-policy.js';
import { createLogger, errorFields, type Logger } from '../common/logger.js';
import { KosmosError } from '../common/errors.js';
import type { ClusterSource, PolicySource } from './sources.js';

type CachedInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

const MAX_BACKOFF_MS = 30_000;

class KindInformer {
  readonly informer: CachedInformer;
  private synced = false;
  private stopped = false;
  private backoffMs = 500;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    readonly kind: KindName,
    private readonly log: Logger,
  ) {
    const info = kindInfo(kind);
    const api = kc.makeApiClient(CustomObjectsApi);
    const list = (): Promise<KubernetesListObject<KubernetesObject>> =>
      info.scope === 'Namespaced'
        ? api.listCustomObjectForAllNamespaces({
            group: GROUP,
            version: VERSION,
            resourcePlural: info.plural,
          })
        : api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: info.plural });
    this.informer = makeInformer(kc, `/apis/${GROUP}/${VERSION}/${info.plural}`, list);
    // The resolver tells DPs from CDPs by `kind`; stamp it on the cached object in case a
    // list ever returns items without it (they are shared, not copied, so this is cheap).
    const stamp = (obj: KubernetesObject) => {
      obj.kind ??= kind;
    };
    this.informer.on('add', stamp);
    this.informer.on('update', stamp);
    this.informer.on('connect', () => {
      this.backoffMs = 500;
    });
    this.informer.on('error', (err) => {
      if (this.stopped) return;
      this.log.warn('informer stopped; restarting', { kind, inMs: this.backoffMs, ...errorFields(err) });
      this.retry = setTimeout(() => void this.begin(), this.backoffMs);
      this.retry.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    });
  }

  private async begin(): Promise<void> {
    try {
      await this.informer.start();
      this.synced = true;
    } catch (err) {
      // start() failing (list refused, CRD missing) also fires 'error', which schedules the retry.
      this.log.warn('informer could not list', { kind: this.kind, ...errorFields(err) });
    }
  }

  /** Resolves after the first successful list, or rejects after `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    void this.begin();
    const deadline = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > deadline)
        throw new KosmosError(
          `no list of ${this.kind} within ${timeoutMs} ms; is its CRD installed and readable?`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  isSynced(): boolean {
    return this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.informer.stop();
  }
}

export class InformerSources implements PolicySource, ClusterSource {
  private readonly dp: KindInformer;
  private readonly cdp: KindInformer;
  private readonly cluster: KindInformer;

  constructor(kc: KubeConfig, logger: Logger = createLogger('webhooks')) {
    this.dp = new KindInformer(kc, 'DistributionPolicy', logger);
    this.cdp = new KindInformer(kc, 'ClusterDistributionPolicy', logger);
    this.cluster = new KindInformer(kc, 'Cluster', logger);
  }

  /** Starts all informers and waits for their first list, so the first review sees every policy. */
  async start(timeoutMs = 60_000): Promise<void> {
    await Promise.all([this.dp.start(timeoutMs), this.cdp.start(timeoutMs), this.cluster.start(timeoutMs)]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.dp.stop(), this.cdp.stop(), this.cluster.stop()]);
  }

  policiesFor(namespace: string): readonly PolicyObject[] {
    // Plain JSON at runtime (see the module comment); the client's types claim Date fields.
    const namespaced = this.dp.informer.list(namespace) as unknown as PolicyObject[];
    const clusterWide = this.cdp.informer.list() as unknown as PolicyObject[];
    return [...namespaced, ...clusterWide];
  }

  clusters(): readonly Cluster[] {
    return this.cluster.informer.list() as unknown as Cluster[];
  }

  synced(): boolean {
    return this.dp.isSynced() && this.cdp.isSynced() && this.cluster.isSynced();
  }
}
