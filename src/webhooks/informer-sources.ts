/**
 * PolicySource and ClusterSource backed by the common list+watch informer: the cached
 * objects are plain JSON exactly as the apiserver sent them (timestamps stay strings), which
 * is what the pure resolver and validators read.
 *
 * The informers retry on their own with capped backoff and keep answering from the last
 * state meanwhile (a slightly stale policy set beats refusing to mutate at all, and pod
 * webhooks fail open anyway).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION } from '../api/constants.js';
import { kindInfo, type Cluster, type KindName } from '../api/kinds.js';
import type { KubeObject } from '../api/meta.js';
import type { PolicyObject } from '../common/distribution-policy.js';
import { KosmosError } from '../common/errors.js';
import { Informer, withKind } from '../common/informer.js';
import { KubeClient, collectionPath } from '../common/kube.js';
import { createLogger, type Logger } from '../common/logger.js';
import type { ClusterSource, PolicySource } from './sources.js';

/**
 * The resolver tells DPs from CDPs by `kind`, which list responses leave out of their
 * items: every cached object gets it stamped on.
 */
function kindInformer<T extends KubeObject>(client: KubeClient, kind: KindName, log: Logger): Informer<T> {
  const path = collectionPath(API_VERSION, kindInfo(kind).plural);
  return new Informer<T>(client, { path, transform: withKind(API_VERSION, kind) }, {}, log.child({ kind }));
}

export class InformerSources implements PolicySource, ClusterSource {
  private readonly client: KubeClient;
  private readonly dp: Informer<PolicyObject>;
  private readonly cdp: Informer<PolicyObject>;
  private readonly cluster: Informer<Cluster>;
  private readonly kinds: [KindName, Informer<KubeObject>][];

  constructor(kc: KubeConfig, logger: Logger = createLogger('webhooks')) {
    this.client = new KubeClient(kc);
    this.dp = kindInformer(this.client, 'DistributionPolicy', logger);
    this.cdp = kindInformer(this.client, 'ClusterDistributionPolicy', logger);
    this.cluster = kindInformer(this.client, 'Cluster', logger);
    this.kinds = [
      ['DistributionPolicy', this.dp],
      ['ClusterDistributionPolicy', this.cdp],
      ['Cluster', this.cluster],
    ] as unknown as [KindName, Informer<KubeObject>][];
  }

  private get all(): Informer<KubeObject>[] {
    return this.kinds.map(([, i]) => i);
  }

  /**
   * Starts all informers and waits for their first list, so the first review sees every
   * policy; rejects after `timeoutMs` naming the kinds not listed yet (the informers keep
   * retrying).
   */
  async start(timeoutMs = 60_000): Promise<void> {
    const timer = new AbortController();
    const timeout = sleep(timeoutMs, 'timeout' as const, { signal: timer.signal, ref: false }).catch(
      () => undefined,
    );
    try {
      const first = await Promise.race([Promise.all(this.all.map((i) => i.start())), timeout]);
      if (first !== 'timeout') return;
    } finally {
      timer.abort();
    }
    const waiting = this.kinds.filter(([, i]) => !i.synced).map(([kind]) => kind);
    throw new KosmosError(
      `no list of ${waiting.join(', ')} within ${timeoutMs} ms; is its CRD installed and readable?`,
    );
  }

  async stop(): Promise<void> {
    for (const i of this.all) i.stop();
    this.client.close();
  }

  policiesFor(namespace: string): readonly PolicyObject[] {
    return [...this.dp.list(namespace), ...this.cdp.list()];
  }

  clusters(): readonly Cluster[] {
    return this.cluster.list();
  }

  synced(): boolean {
    return this.all.every((i) => i.synced);
  }
}
