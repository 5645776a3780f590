/**
 * A small Kubernetes REST client that speaks plain JSON (timestamps stay strings), so
 * the pure cores get objects exactly as the apiserver sends them. Kubeconfig parsing and
 * credentials come from @kubernetes/client-node; requests use a keep-alive HTTPS agent.
 */
import https from 'node:https';
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../api/meta.js';
import { KosmosError, UserError } from './errors.js';

export class KubeApiError extends KosmosError {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
/** Discovery found no resource for the kind: its API group or CRD is not installed. */
export class NotServedError extends KosmosError {
  constructor(apiVersion: string, kind: string) {
    super(`the server has no resource for kind ${kind} in ${apiVersion}`);
    this.name = 'NotServedError';
  }
}

/** The apiserver does not serve this kind (no such API group version, or no such kind in it). */
export const isNotServed = (e: unknown): boolean => isNotFound(e) || e instanceof NotServedError;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof KubeApiError && e.status === 409 && e.reason === 'AlreadyExists';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/**
 * `loadKubeConfig` for a command's --kubeconfig flag: a kubeconfig that cannot be read is the
 * user's to fix, so the error is a one-line UserError (no cause: the CLI would print it twice).
 */
export function loadKubeConfigForCommand(path?: string): KubeConfig {
  try {
    return loadKubeConfig(path);
  } catch (err) {
    throw new UserError(`cannot load kubeconfig ${path ?? '(default)'}: ${(err as Error).message}`);
  }
}

export function kubeConfigFromString(text: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  contentType?: string;
  timeoutMs?: number;
}

export interface ResourceInfo {
  path: string; // e.g. /apis/kosmos.io/v1alpha1 or /api/v1
  plural: string;
  namespaced: boolean;
}

export interface ListResult<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export class KubeClient {
  readonly server: string;
  private readonly agent: https.Agent | http.Agent;
  private readonly ready: Promise<https.RequestOptions>;
  private readonly discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KosmosError('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
    this.agent = this.server.startsWith('https:')
      ? new https.Agent({ keepAlive: true, maxSockets: 64 })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.ready = (async () => {
      const opts: https.RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(opts);
      return opts;
    })();
  }

  static fromFile(path: string): KubeClient {
    return new KubeClient(loadKubeConfig(path));
  }

  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const base = await this.ready;
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json', ...(base.headers as object) };
    if (payload !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const mod = url.protocol === 'https:' ? https : http;
    return await new Promise<T>((resolve, reject) => {
      const req = mod.request(
        url,
        { ...base, method, headers, agent: this.agent, timeout: options.timeoutMs ?? 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            if (status >= 200 && status < 300) {
              resolve(parsed as T);
              return;
            }
            const st = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
            reject(
              new KubeApiError(
                status,
                st.reason ?? String(status),
                `${method} ${path}: ${status} ${st.message ?? (typeof parsed === 'string' ? parsed : '')}`.trim(),
                st.details,
              ),
            );
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new KosmosError(`${method} ${path}: timed out`)));
      req.on('error', (err) =>
        reject(new KosmosError(`${method} ${this.server}${path}: ${err.message}`, { cause: err })),
      );
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Resource info for apiVersion+kind through discovery (cached per group version). */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const gvPath = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let cached = this.discovery.get(gvPath);
    if (!cached) {
      cached = this.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
        'GET',
        gvPath,
      ).then((list) => {
        const m = new Map<string, ResourceInfo>();
        for (const r of list.resources) {
          if (!r.name.includes('/'))
            m.set(r.kind, { path: gvPath, plural: r.name, namespaced: r.namespaced });
        }
        return m;
      });
      cached.catch(() => this.discovery.delete(gvPath));
      this.discovery.set(gvPath, cached);
    }
    const info = (await cached).get(kind);
    if (!info) {
      this.discovery.delete(gvPath);
      throw new NotServedError(apiVersion, kind);
    }
    return info;
  }

  async objectPath(obj: KubeObject, withName = true): Promise<string> {
    if (!obj.apiVersion || !obj.kind) throw new KosmosError('object needs apiVersion and kind');
    const info = await this.resourceFor(obj.apiVersion, obj.kind);
    const ns = info.namespaced ? `/namespaces/${obj.metadata?.namespace ?? 'default'}` : '';
    const name = withName ? `/${encodeURIComponent(obj.metadata?.name ?? '')}` : '';
    return `${info.path}${ns}/${info.plural}${name}`;
  }

  /** Server-side apply: our field manager owns only the fields we send. */
  async apply<T extends KubeObject>(
    obj: T,
    fieldManager: string,
    opts: { force?: boolean; dryRun?: boolean } = {},
  ): Promise<T> {
    const path = await this.objectPath(obj);
    return await this.request<T>('PATCH', path, obj, {
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: opts.force ?? true, dryRun: opts.dryRun ? 'All' : undefined },
    });
  }

  async get<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<T> {
    const path = await this.objectPath({
      apiVersion,
      kind,
      metadata: { name, ...(namespace ? { namespace } : {}) },
    });
    return await this.request<T>('GET', path);
  }

  async getOrUndefined<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(apiVersion, kind, name, namespace);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<ListResult<T>> {
    const info = await this.resourceFor(apiVersion, kind);
    const ns = info.namespaced && opts.namespace ? `/namespaces/${opts.namespace}` : '';
    return await this.request<ListResult<T>>('GET', `${info.path}${ns}/${info.plural}`, undefined, {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
    });
  }

  async create<T extends KubeObject>(obj: T, opts: { fieldManager?: string } = {}): Promise<T> {
    const path = await this.objectPath(obj, false);
    return await this.request<T>('POST', path, obj, { query: { fieldManager: opts.fieldManager } });
  }

  async delete(
    obj: KubeObject,
    opts: { gracePeriodSeconds?: number; propagationPolicy?: string } = {},
  ): Promise<void> {
    const path = await this.objectPath(obj);
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.gracePeriodSeconds !== undefined) body['gracePeriodSeconds'] = opts.gracePeriodSeconds;
    if (opts.propagationPolicy) body['propagationPolicy'] = opts.propagationPolicy;
    try {
      await this.request('DELETE', path, body);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
