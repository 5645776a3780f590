/**
 * A small Kubernetes REST client that speaks plain JSON (timestamps stay strings), so
 * the pure cores get objects exactly as the apiserver sends them. Kubeconfig parsing and
 * credentials come from @kubernetes/client-node; requests use a keep-alive HTTPS agent.
 */
import https from 'node:https';
import http from 'node:http';
import fs from 'node:fs';
import nodePath from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, type User } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { KubeObject } from '../api/meta.js';
import { KosmosError, KubeApiError, UserError, describeError } from './errors.js';

export { KubeApiError };

/** An event of a watch stream, as the apiserver sends it. */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The KubeApiError for a non-2xx response, from its Status body when it has one. */
function apiError(method: string, path: string, status: number, body: unknown): KubeApiError {
  const st = (body ?? {}) as { reason?: string; message?: string; details?: unknown };
  const text = st.message ?? (typeof body === 'string' ? body.slice(0, 200) : '');
  return new KubeApiError(
    status,
    st.reason ?? String(status),
    `${method} ${path}: ${status} ${text}`.trim(),
    st.details,
  );
}

function readBody(res: http.IncomingMessage, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('close', () => {
      if (!res.complete) reject(new KosmosError(`${what}: connection closed before the response ended`));
    });
    res.on('error', (err) =>
      reject(err instanceof KosmosError ? err : new KosmosError(`${what}: ${err.message}`, { cause: err })),
    );
  });
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
/** 410 Gone: a watch's resourceVersion (or a list's continue token) is older than the server keeps. */
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && e.status === 410;
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
  const file = path ?? singleKubeconfigFromEnv();
  if (file) loadKubeConfigFile(kc, file);
  else kc.loadFromDefault();
  return kc;
}

function singleKubeconfigFromEnv(): string | undefined {
  const env = process.env.KUBECONFIG;
  return env && !env.includes(nodePath.delimiter) ? env : undefined;
}

/**
 * A kubeconfig file, with its users' token files honoured (`tokenFile`, as client-go spells
 * it; `token-file` too): the credential is the file's current content, re-read every minute
 * as client-go does, so a rotated ServiceAccount token is picked up, and a relative path is
 * relative to the kubeconfig. client-node reads only `token-file`, once, relative to the
 * working directory, and ignores `tokenFile`, so such a user would otherwise be anonymous (a
 * pod mounting an in-cluster kubeconfig got 403 as system:anonymous). The file is handed to
 * client-node's file authenticator, which refreshes on that schedule; an inline token wins.
 */
function loadKubeConfigFile(kc: KubeConfig, file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const rootDir = nodePath.dirname(file);
  let doc: { users?: { name?: unknown; user?: Record<string, unknown> }[] } | null;
  try {
    doc = parseYaml(text) as typeof doc;
  } catch {
    doc = null; // client-node reports what is wrong with it
  }
  const files = new Map<string, string>();
  let rewritten = false;
  for (const u of Array.isArray(doc?.users) ? doc.users : []) {
    const user = u?.user;
    if (!user || typeof user !== 'object') continue;
    const f = user.tokenFile ?? user['token-file'];
    if ('token-file' in user) {
      delete user['token-file']; // read here, relative to the kubeconfig, not by client-node
      rewritten = true;
    }
    if (typeof u.name === 'string' && typeof f === 'string' && f !== '' && user.token === undefined)
      files.set(u.name, nodePath.resolve(rootDir, f));
  }
  kc.loadFromString(rewritten ? stringifyYaml(doc) : text);
  kc.makePathsAbsolute(rootDir);
  if (files.size === 0) return;
  kc.users = kc.users.map((u): User => {
    const tokenFile = files.get(u.name);
    if (tokenFile === undefined || u.authProvider !== undefined) return u;
    return { ...u, authProvider: { name: 'tokenFile', config: { tokenFile } } };
  });
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

/** The path of an API group version: /api/v1 for the core group, /apis/<group>/<version> for the others. */
export const groupVersionPath = (apiVersion: string): string =>
  apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;

/** The path of a resource collection, e.g. /api/v1/services or /apis/kosmos.io/v1alpha1/clusters. */
export const collectionPath = (apiVersion: string, plural: string): string =>
  `${groupVersionPath(apiVersion)}/${plural}`;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  contentType?: string;
  timeoutMs?: number;
  /** How often a request the server asks to be retried (429, or 5xx with Retry-After) is sent again; 5 by default. */
  maxRetries?: number;
}

/** The longest Retry-After the client honours, so a misbehaving server cannot park a caller. */
export const MAX_RETRY_AFTER_MS = 10_000;

/** How long credentials read from files are used before being read again (client-go: a minute). */
const AUTH_REFRESH_MS = 60_000;

/**
 * How long to wait before sending a request again, or undefined to give up: the server said
 * it did not process the request and asked for a retry (429 Too Many Requests, e.g. "storage
 * is (re)initializing" while the watch cache rebuilds, or a 5xx that carries Retry-After, as
 * client-go retries them), and `attempt` retries have been made of `maxRetries`.
 */
export function retryAfterMs(
  status: number,
  retryAfter: string | string[] | undefined,
  attempt: number,
  maxRetries: number,
): number | undefined {
  if (attempt >= maxRetries) return undefined;
  const header = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  const seconds = header === undefined || header.trim() === '' ? NaN : Number(header);
  const given = Number.isFinite(seconds) && seconds >= 0;
  if (status === 429 || (status >= 500 && status <= 599 && given))
    return Math.min(MAX_RETRY_AFTER_MS, given ? seconds * 1000 : 1000);
  return undefined;
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
  /** TLS options and credentials, computed again after a minute so a rotated token file is read. */
  private auth: { at: number; opts: Promise<https.RequestOptions> } | undefined;
  private readonly discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KosmosError('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
    this.agent = this.server.startsWith('https:')
      ? new https.Agent({ keepAlive: true, maxSockets: 64 })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  private requestOptions(): Promise<https.RequestOptions> {
    const now = Date.now();
    if (this.auth === undefined || now - this.auth.at > AUTH_REFRESH_MS) {
      const opts = (async () => {
        const o: https.RequestOptions = {};
        await this.kubeConfig.applyToHTTPSOptions(o);
        return o;
      })();
      opts.catch(() => (this.auth = undefined));
      this.auth = { at: now, opts };
    }
    return this.auth.opts;
  }

  static fromFile(path: string): KubeClient {
    return new KubeClient(loadKubeConfig(path));
  }

  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { res } = await this.send(method, path, body, options);
      const text = await readBody(res, `${method} ${path}`);
      const status = res.statusCode ?? 0;
      const parsed = parseJson(text);
      if (status >= 200 && status < 300) return parsed as T;
      const wait = retryAfterMs(status, res.headers['retry-after'], attempt, options.maxRetries ?? 5);
      if (wait === undefined) throw apiError(method, path, status, parsed);
      await sleep(wait);
    }
  }

  /**
   * A watch stream (`?watch=true`), one event per line, handed to `onEvent` as it arrives.
   * Resolves when the server ends the stream (its timeoutSeconds) or nothing arrived for
   * `idleTimeoutMs` (a half-open connection looks exactly like a quiet one, so it is ended
   * and the caller resumes); rejects with a KubeApiError when the server refuses the watch
   * (410 Gone among them) and with a KosmosError when the connection breaks. An `ERROR`
   * event is handed on like any other: what it means is the caller's business; an error
   * `onEvent` throws ends the watch and is what it rejects with.
   */
  async watch<T>(
    path: string,
    query: RequestOptions['query'],
    onEvent: (event: WatchEvent<T>) => void,
    opts: { signal?: AbortSignal; idleTimeoutMs?: number; onOpen?: () => void } = {},
  ): Promise<void> {
    const q = { ...query, watch: true };
    const idleTimeoutMs = opts.idleTimeoutMs ?? 90_000;
    const { req, res } = await this.send(
      'GET',
      path,
      undefined,
      { query: q, timeoutMs: idleTimeoutMs },
      opts.signal,
    );
    const status = res.statusCode ?? 0;
    if (status !== 200) throw apiError('GET', path, status, parseJson(await readBody(res, `watch ${path}`)));
    opts.onOpen?.();
    let idle = false;
    req.once('timeout', () => (idle = true));
    await new Promise<void>((resolve, reject) => {
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
            onEvent(JSON.parse(line) as WatchEvent<T>);
          } catch (err) {
            res.destroy(
              err instanceof KosmosError
                ? err
                : new KosmosError(`watch ${path}: ${describeError(err)}`, { cause: err }),
            );
            return;
          }
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve()); // idle timeout or abort: the stream is over either way
      res.on('error', (err) =>
        idle || opts.signal?.aborted
          ? resolve()
          : reject(
              err instanceof KosmosError
                ? err
                : new KosmosError(`watch ${path}: ${err.message}`, { cause: err }),
            ),
      );
    });
  }

  /** Sends a request and resolves with the response once its headers arrived. */
  private async send(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions,
    signal?: AbortSignal,
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    const base = await this.requestOptions();
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
    const timeout = options.timeoutMs ?? 30_000;
    return await new Promise((resolve, reject) => {
      const req = mod.request(url, { ...base, method, headers, agent: this.agent, timeout, signal }, (res) =>
        resolve({ req, res }),
      );
      // The socket's idle timeout: before the response it is a failed request, after it
      // (a watch gone quiet) the end of the stream.
      req.on('timeout', () => req.destroy(new KosmosError(`${method} ${path}: timed out`)));
      req.on('error', (err) =>
        reject(
          err instanceof KosmosError
            ? err
            : new KosmosError(`${method} ${this.server}${path}: ${err.message}`, { cause: err }),
        ),
      );
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Resource info for apiVersion+kind through discovery (cached per group version). */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const gvPath = groupVersionPath(apiVersion);
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
