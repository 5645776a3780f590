/**
 * A list+watch cache of one resource in one cluster. Objects stay plain JSON (client-node's
 * Watch yields parsed JSON, not model classes), which is what the pure derive core expects.
 * It re-watches from the last resourceVersion when a watch ends and re-lists on 410 Gone or
 * errors; a resource that does not exist yet (CRDs not installed) is retried until it does.
 */
import { Watch } from '@kubernetes/client-node';
import type { KubeObject } from '../../api/meta.js';
import type { KubeClient } from '../../common/kube.js';
import { errorFields, type Logger } from '../../common/logger.js';

export interface InformerOptions {
  client: KubeClient;
  apiVersion: string;
  kind: string;
  log: Logger;
  onChange: () => void;
  /** Only objects with these labels (e.g. the DNS server needs MCS slices only). */
  labelSelector?: string;
  /** Backoff after a failed list, in ms. */
  retryMs?: number;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Informer<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private synced = false;
  private readonly watch: Watch;

  constructor(private readonly opts: InformerOptions) {
    this.watch = new Watch(opts.client.kubeConfig);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  list(): T[] {
    return [...this.items.values()];
  }

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private retry(fn: () => void, ms = this.opts.retryMs ?? 1000): void {
    if (this.stopped) return;
    this.timer = setTimeout(fn, ms);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      const res = await this.opts.client.list<T>(this.opts.apiVersion, this.opts.kind, {
        labelSelector: this.opts.labelSelector,
      });
      this.items.clear();
      for (const o of res.items)
        this.items.set(keyOf(o), { apiVersion: this.opts.apiVersion, kind: this.opts.kind, ...o });
      this.resourceVersion = res.metadata.resourceVersion ?? '';
      this.synced = true;
      this.opts.onChange();
      await this.startWatch();
    } catch (e) {
      this.opts.log.debug('list failed; retrying', { kind: this.opts.kind, ...errorFields(e) });
      this.retry(() => void this.relist());
    }
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    const info = await this.opts.client.resourceFor(this.opts.apiVersion, this.opts.kind);
    let gone = false;
    this.abort = await this.watch.watch(
      `${info.path}/${info.plural}`,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: 300,
        labelSelector: this.opts.labelSelector,
      },
      (phase: string, obj: unknown) => {
        const o = obj as T & { code?: number };
        if (phase === 'ERROR') {
          gone = o.code === 410;
          return;
        }
        if (o.metadata?.resourceVersion) this.resourceVersion = o.metadata.resourceVersion;
        if (phase === 'BOOKMARK') return;
        if (phase === 'DELETED') this.items.delete(keyOf(o));
        else this.items.set(keyOf(o), o);
        this.opts.onChange();
      },
      (err: unknown) => {
        if (this.stopped) return;
        if (gone || err) this.retry(() => void this.relist(), gone ? 0 : undefined);
        else this.retry(() => void this.startWatch().catch(() => this.retry(() => void this.relist())), 0);
      },
    );
  }
}
