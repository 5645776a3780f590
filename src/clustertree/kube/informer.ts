/**
 * A plain-JSON list+watch informer on KubeClient's credentials: objects arrive exactly as
 * the apiserver sends them (what the pure cores take), watches resume from the last
 * resourceVersion (bookmarks keep it fresh), and a 410 Gone relists and reports the
 * difference as events, so a consumer never misses a deletion across a disconnect.
 *
 * Written rather than @kubernetes/client-node's makeInformer because that one turns objects
 * into class instances with Date fields, and its error/relist behaviour is not observable
 * (no "synced after relist" signal, which the reconcile-on-reconnect logic needs).
 */
import https from 'node:https';
import http from 'node:http';
import type { KubeObject } from '../../api/meta.js';
import type { KubeClient, ListResult } from '../../common/kube.js';
import { errorFields, type Logger } from '../../common/logger.js';

export interface InformerHandlers<T> {
  onUpsert?: (obj: T, old: T | undefined) => void;
  onDelete?: (obj: T) => void;
  /** After every successful (re)list, e.g. to reconcile everything once. */
  onSynced?: () => void;
}

export interface InformerOptions {
  /** Collection path, e.g. /api/v1/pods. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
}

const key = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

class GoneError extends Error {}

export class Informer<T extends KubeObject> {
  readonly store = new Map<string, T>();
  private resourceVersion = '';
  private stopped = false;
  private current?: http.ClientRequest;
  private firstSync?: Promise<void>;
  private resolveFirst?: () => void;
  /** False while the apiserver cannot be reached (for readiness and logs). */
  connected = false;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: InformerOptions,
    private readonly handlers: InformerHandlers<T>,
    private readonly log: Logger,
  ) {}

  /** Resolves after the first list. */
  start(): Promise<void> {
    if (!this.firstSync) {
      this.firstSync = new Promise((r) => (this.resolveFirst = r));
      void this.run();
    }
    return this.firstSync;
  }

  stop(): void {
    this.stopped = true;
    this.current?.destroy();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(`${namespace ?? ''}/${name}`);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  private async run(): Promise<void> {
    let needList = true;
    let delay = 250;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        await this.watch();
        delay = 250;
      } catch (e) {
        if (this.stopped) return;
        this.connected = false;
        if (e instanceof GoneError) {
          needList = true;
          continue;
        }
        this.log.debug('watch failed, retrying', { path: this.opts.path, ...errorFields(e) });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  private async relist(): Promise<void> {
    const seen = new Map<string, T>();
    let cont: string | undefined;
    let rv: string;
    do {
      const page: ListResult<T> = await this.client.request('GET', this.opts.path, undefined, {
        query: {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          limit: 500,
          continue: cont,
        },
        timeoutMs: 60_000,
      });
      for (const item of page.items) seen.set(key(item), item);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont);
    this.resourceVersion = rv;
    this.connected = true;
    for (const [k, old] of this.store) {
      if (!seen.has(k)) {
        this.store.delete(k);
        this.handlers.onDelete?.(old);
      }
    }
    for (const [k, obj] of seen) {
      const old = this.store.get(k);
      this.store.set(k, obj);
      if (old?.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.handlers.onUpsert?.(obj, old);
    }
    this.resolveFirst?.();
    this.handlers.onSynced?.();
  }

  private async watch(): Promise<void> {
    const opts: https.RequestOptions = {};
    await this.client.kubeConfig.applyToHTTPSOptions(opts);
    const url = new URL(this.client.server + this.opts.path);
    const q: Record<string, string | undefined> = {
      watch: 'true',
      allowWatchBookmarks: 'true',
      resourceVersion: this.resourceVersion,
      timeoutSeconds: String(240 + Math.floor(Math.random() * 60)),
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
    };
    for (const [k, v] of Object.entries(q)) if (v) url.searchParams.set(k, v);
    const mod = url.protocol === 'https:' ? https : http;
    await new Promise<void>((resolve, reject) => {
      const req = mod.request(
        url,
        { ...opts, method: 'GET', headers: { ...(opts.headers as object), Accept: 'application/json' } },
        (res) => {
          if (res.statusCode === 410) {
            res.resume();
            reject(new GoneError());
            return;
          }
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`watch ${this.opts.path}: HTTP ${res.statusCode}`));
            return;
          }
          this.connected = true;
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line.trim()) continue;
              try {
                this.apply(JSON.parse(line) as { type: string; object: T & { code?: number } });
              } catch (e) {
                req.destroy(e as Error);
                return;
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', reject);
        },
      );
      this.current = req;
      req.on('error', reject);
      // A silent half-open connection would hang forever; bookmarks arrive at least every minute.
      req.setTimeout(90_000, () => req.destroy(new Error(`watch ${this.opts.path}: idle`)));
      req.end();
    });
  }

  private apply(ev: { type: string; object: T & { code?: number } }): void {
    if (ev.type === 'ERROR') {
      if (ev.object.code === 410) throw new GoneError();
      throw new Error(`watch ${this.opts.path}: ${JSON.stringify(ev.object)}`);
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (ev.type === 'BOOKMARK') return;
    const k = key(ev.object);
    if (ev.type === 'DELETED') {
      this.store.delete(k);
      this.handlers.onDelete?.(ev.object);
      return;
    }
    const old = this.store.get(k);
    this.store.set(k, ev.object);
    this.handlers.onUpsert?.(ev.object, old);
  }
}
