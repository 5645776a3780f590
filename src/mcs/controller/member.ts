/** One member cluster as the controller sees it: a client and the caches derive reads. */
import type { KubeObject } from '../../api/meta.js';
import { Informer, withKind } from '../../common/informer.js';
import { KubeClient, collectionPath } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import { MCS_API_VERSION } from '../constants.js';
import type { ClusterSnapshot } from '../derive/derive.js';
import type { EndpointSlice, Namespace, Service, ServiceExport, ServiceImport } from '../types.js';
import type { MemberCluster } from './clusters.js';

export class Member {
  readonly client: KubeClient;
  readonly namespaces: Informer<Namespace>;
  readonly services: Informer<Service>;
  readonly exports: Informer<ServiceExport>;
  readonly slices: Informer<EndpointSlice>;
  readonly imports: Informer<ServiceImport>;

  constructor(
    readonly cluster: MemberCluster,
    log: Logger,
    onChange: () => void,
  ) {
    this.client = new KubeClient(cluster.kubeConfig);
    const l = log.child({ cluster: cluster.name });
    const inf = <T extends Namespace>(apiVersion: string, kind: string) =>
      mcsInformer<T>(this.client, apiVersion, kind, l, onChange);
    this.namespaces = inf<Namespace>('v1', 'Namespace');
    this.services = inf<Service>('v1', 'Service');
    this.exports = inf<ServiceExport>(MCS_API_VERSION, 'ServiceExport');
    this.slices = inf<EndpointSlice>('discovery.k8s.io/v1', 'EndpointSlice');
    this.imports = inf<ServiceImport>(MCS_API_VERSION, 'ServiceImport');
  }

  private get all() {
    return [this.namespaces, this.services, this.exports, this.slices, this.imports];
  }

  get name(): string {
    return this.cluster.name;
  }

  get hasSynced(): boolean {
    return this.all.every((i) => i.synced);
  }

  start(): void {
    for (const i of this.all) void i.start();
  }

  stop(): void {
    for (const i of this.all) i.stop();
    this.client.close();
  }

  snapshot(): ClusterSnapshot {
    return {
      name: this.name,
      namespaces: this.namespaces.list(),
      services: this.services.list(),
      exports: this.exports.list(),
      slices: this.slices.list(),
      imports: this.imports.list(),
    };
  }
}

/**
 * A cache of one kind whose every change (and every completed relist) calls `onChange`.
 * The kinds MCS reads all have Kubernetes' default plural (lowercased kind + "s"), and their
 * list items get apiVersion and kind stamped on, which list responses leave out.
 */
export function mcsInformer<T extends KubeObject>(
  client: KubeClient,
  apiVersion: string,
  kind: string,
  log: Logger,
  onChange: () => void,
  labelSelector?: string,
): Informer<T> {
  return new Informer<T>(
    client,
    {
      path: collectionPath(apiVersion, `${kind.toLowerCase()}s`),
      transform: withKind(apiVersion, kind),
      ...(labelSelector ? { labelSelector } : {}),
    },
    { onUpsert: onChange, onDelete: onChange, onSynced: onChange },
    log,
  );
}
