/**
 * Feeds the DNS server: watches the ServiceImports and MCS EndpointSlices of the cluster whose
 * CoreDNS forwards clusterset.local here, and rebuilds the index (cheap: 1000 imports take a
 * few milliseconds) shortly after changes, bumping the SOA serial each time.
 */
import type { KubeClient } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import { LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER, MCS_API_VERSION } from '../constants.js';
import type { Informer } from '../../common/informer.js';
import { mcsInformer } from '../controller/member.js';
import type { EndpointSlice, ServiceImport } from '../types.js';
import { buildIndex, type ImportIndex } from './index-builder.js';

export class ImportIndexSource {
  private index: ImportIndex | undefined;
  private serialNo = Math.floor(Date.now() / 1000);
  private timer: NodeJS.Timeout | undefined;
  private readonly imports: Informer<ServiceImport>;
  private readonly slices: Informer<EndpointSlice>;

  constructor(
    client: KubeClient,
    log: Logger,
    private readonly debounceMs = 20,
  ) {
    const onChange = () => this.schedule();
    this.imports = mcsInformer<ServiceImport>(client, MCS_API_VERSION, 'ServiceImport', log, onChange);
    this.slices = mcsInformer<EndpointSlice>(
      client,
      'discovery.k8s.io/v1',
      'EndpointSlice',
      log,
      onChange,
      `${LABEL_SERVICE_NAME},${LABEL_SOURCE_CLUSTER}`,
    );
  }

  start(): void {
    void this.imports.start();
    void this.slices.start();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.imports.stop();
    this.slices.stop();
  }

  get ready(): boolean {
    return this.index !== undefined;
  }

  current(): ImportIndex | undefined {
    return this.index;
  }

  serial(): number {
    return this.serialNo;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.imports.synced || !this.slices.synced) return;
      this.index = buildIndex(this.imports.list(), this.slices.list());
      this.serialNo++;
    }, this.debounceMs);
  }
}
