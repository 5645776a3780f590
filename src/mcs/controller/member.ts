/** One member cluster as the controller sees it: a client and the caches derive reads. */
import { KubeClient } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import { MCS_API_VERSION } from '../constants.js';
import type { ClusterSnapshot } from '../derive/derive.js';
import type { EndpointSlice, Namespace, Service, ServiceExport, ServiceImport } from '../types.js';
import type { MemberCluster } from './clusters.js';
import { Informer } from './informer.js';

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
      new Informer<T>({ client: this.client, apiVersion, kind, log: l, onChange });
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
    return this.all.every((i) => i.hasSynced);
  }

  start(): void {
    for (const i of this.all) i.start();
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
