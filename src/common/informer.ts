/**
 * The one list+watch informer of Kosmos, on KubeClient's credentials: objects arrive exactly
 * as the apiserver sends them (plain JSON, timestamps as strings: what the pure cores take).
 * It lists in pages, watches from the list's resourceVersion with bookmarks keeping that
 * fresh, resumes a watch that ended from where it was, and on 410 Gone relists and reports
 * the difference as add/update/delete events, so a consumer never misses a deletion across
 * a disconnect. Failures back off exponentially with jitter.
 *
 * Shaped after @kubernetes/client-node's ListWatch: the cache and its transitions are small
 * functions exported for tests (`applyEvent`, `relistDiff`), so is the retry policy
 * (`nextPlan`, `retryDelay`), and the delay and randomness are injectable. Written rather
 * than used because client-node's turns objects into class instances with Date fields and
 * does not page its list.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../api/meta.js';
import {
  KubeApiError,
  isGone,
  isNotFound,
  type KubeClient,
  type ListResult,
  type WatchEvent,
} from './kube.js';
import { errorFields, type Logger } from './logger.js';
import { namespacedKey, objectKey } from './object-key.js';

/** Objects per list page: each response (and its parse) stays small, however large the cluster. */
export const PAGE_SIZE = 500;
/** The first retry after a failure comes quickly: most failures are a blip. */
export const INITIAL_RETRY_MS = 250;
/** No retry waits longer: an apiserver back from a restart is noticed within this. */
export const MAX_RETRY_MS = 10_000;
/** Each delay is shortened by up to this share, so informers that failed together spread out. */
export const RETRY_JITTER = 0.2;
/** The server ends a watch after this (plus up to WATCH_TIMEOUT_SPREAD_S), spreading reconnects. */
export const WATCH_TIMEOUT_S = 240;
export const WATCH_TIMEOUT_SPREAD_S = 60;
/** Bookmarks arrive at least once a minute; a watch quiet for longer is a half-open connection. */
export const WATCH_IDLE_MS = 90_000;
/** One list page may take this long (a page of 500 large objects over a slow link). */
export const LIST_PAGE_TIMEOUT_MS = 60_000;

// ---- the cache and its transitions --------------------------------------------------------

export type InformerEvent<T> =
  { type: 'add'; object: T } | { type: 'update'; object: T; old: T } | { type: 'delete'; object: T };

/** What an informer knows: its objects by `namespace/name` and the resourceVersion it is at. */
export interface InformerState<T> {
  store: Map<string, T>;
  resourceVersion: string;
}

/** What the store keeps of an object; the default keeps it whole. */
export type Slim<T> = (obj: T) => T;
const whole = <T>(obj: T): T => obj;

export function newState<T>(): InformerState<T> {
  return { store: new Map(), resourceVersion: '' };
}

/** A stored object whose resourceVersion equals the new one's has not changed (a slim copy without one always has). */
function sameVersion(a: KubeObject, b: KubeObject): boolean {
  const rv = a.metadata?.resourceVersion;
  return rv !== undefined && rv === b.metadata?.resourceVersion;
}

/** The error an ERROR watch event carries (its object is a Status), as the KubeApiError it means. */
export function watchError(status: { code?: number; reason?: string; message?: string }): KubeApiError {
  const code = status.code ?? 500;
  return new KubeApiError(
    code,
    status.reason ?? String(code),
    `watch: ${code} ${status.message ?? ''}`.trim(),
  );
}

/**
 * One watch event applied to the state: the event a handler should hear, if any. Bookmarks
 * only move the resourceVersion; an ERROR event throws the KubeApiError it carries (410 Gone
 * among them), which ends the watch.
 */
export function applyEvent<T extends KubeObject>(
  state: InformerState<T>,
  event: WatchEvent<T>,
  slim: Slim<T> = whole,
): InformerEvent<T> | undefined {
  if (event.type === 'ERROR') throw watchError(event.object as { code?: number });
  const rv = event.object.metadata?.resourceVersion;
  if (rv) state.resourceVersion = rv;
  if (event.type === 'BOOKMARK') return undefined;
  const key = objectKey(event.object);
  const old = state.store.get(key);
  if (event.type === 'DELETED') {
    if (!old) return undefined;
    state.store.delete(key);
    return { type: 'delete', object: event.object };
  }
  return upsert(state, key, event.object, old, slim);
}

function upsert<T extends KubeObject>(
  state: InformerState<T>,
  key: string,
  obj: T,
  old: T | undefined,
  slim: Slim<T>,
): InformerEvent<T> | undefined {
  if (old && sameVersion(old, obj)) return undefined;
  state.store.set(key, slim(obj));
  return old ? { type: 'update', object: obj, old } : { type: 'add', object: obj };
}

/** One page of a relist: adds and updates for what changed; `seen` collects the keys listed so far. */
export function relistPage<T extends KubeObject>(
  state: InformerState<T>,
  seen: Set<string>,
  items: readonly T[],
  slim: Slim<T> = whole,
): InformerEvent<T>[] {
  const events: InformerEvent<T>[] = [];
  for (const obj of items) {
    const key = objectKey(obj);
    seen.add(key);
    const ev = upsert(state, key, obj, state.store.get(key), slim);
    if (ev) events.push(ev);
  }
  return events;
}

/** The end of a relist: a delete for every stored object no page listed; the state is at `resourceVersion`. */
export function relistEnd<T extends KubeObject>(
  state: InformerState<T>,
  seen: ReadonlySet<string>,
  resourceVersion: string,
): InformerEvent<T>[] {
  const events: InformerEvent<T>[] = [];
  for (const [key, old] of state.store) {
    if (seen.has(key)) continue;
    state.store.delete(key);
    events.push({ type: 'delete', object: old });
  }
  state.resourceVersion = resourceVersion;
  return events;
}

/** A whole relist in one: what the listed `items` change in the state, as events. */
export function relistDiff<T extends KubeObject>(
  state: InformerState<T>,
  items: readonly T[],
  resourceVersion: string,
  slim: Slim<T> = whole,
): InformerEvent<T>[] {
  const seen = new Set<string>();
  return [...relistPage(state, seen, items, slim), ...relistEnd(state, seen, resourceVersion)];
}

// ---- the retry policy ---------------------------------------------------------------------

/** How long to wait after `failures` failures in a row: doubling from INITIAL_RETRY_MS, capped, jittered. */
export function retryDelay(failures: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_MS, INITIAL_RETRY_MS * 2 ** Math.max(0, failures));
  return Math.round(base * (1 - RETRY_JITTER * random()));
}

/** How the last step ended. `events` counts what a watch received, bookmarks included. */
export type Outcome =
  | { ok: true; step: 'list' }
  | { ok: true; step: 'watch'; events: number }
  | { ok: false; step: 'list' | 'watch'; error: unknown };

export interface Plan {
  next: 'list' | 'watch';
  delayMs: number;
  /** Failures in a row so far (what the next delay grows from). */
  failures: number;
}

export const FIRST_PLAN: Plan = { next: 'list', delayMs: 0, failures: 0 };

/**
 * The next step after `outcome`: watch from where a list or a watch left off; relist on 410
 * Gone (at once, unless that keeps happening); retry what failed after a growing delay. A
 * watch the server ends before sending anything counts as a failure, or a server that
 * closes watches at once would be asked again in a tight loop.
 */
export function nextPlan(prev: Plan, outcome: Outcome, random: () => number = Math.random): Plan {
  const failed = (next: Plan['next']): Plan => ({
    next,
    delayMs: retryDelay(prev.failures, random),
    failures: prev.failures + 1,
  });
  if (outcome.ok) {
    if (outcome.step === 'watch' && outcome.events === 0) return failed('watch');
    return { next: 'watch', delayMs: 0, failures: 0 };
  }
  if (isGone(outcome.error))
    return prev.failures === 0 ? { next: 'list', delayMs: 0, failures: 1 } : failed('list');
  return failed(outcome.step);
}

// ---- the informer -------------------------------------------------------------------------

export interface InformerHandlers<T> {
  /** An object appeared (`old` undefined) or changed. */
  onUpsert?: (obj: T, old: T | undefined) => void;
  /** An object is gone: the watch's last state of it, or after a relist the stored copy. */
  onDelete?: (obj: T) => void;
  /** After every successful (re)list, e.g. to reconcile everything once. */
  onSynced?: () => void;
}

export interface InformerOptions<T> {
  /** Collection path, e.g. /api/v1/pods or /apis/kosmos.io/v1alpha1/clusters. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Applied to every object from a list or a watch before anything else (e.g. `withKind`). */
  transform?: (obj: T) => T;
  /** What the store keeps of an object (e.g. `identityOf` when the consumer keeps its own copy). */
  slim?: Slim<T>;
  /** Runs each list page (e.g. to bound the lists a process has in flight). */
  listGate?: <R>(list: () => Promise<R>) => Promise<R>;
  /** Waits between retries; rejects or resolves early when `signal` aborts. */
  delay?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Jitter source, in [0, 1). */
  random?: () => number;
}

/**
 * The first sync of an informer: resolves after its first successful list and never
 * rejects (the informer retries and logs failures itself), so it may be left unawaited.
 */
export interface FirstSync extends Promise<void> {
  readonly neverRejects?: true;
}

const defaultDelay = (ms: number, signal: AbortSignal): Promise<void> =>
  sleep(ms, undefined, { signal, ref: false }).catch(() => undefined);

/** A transform stamping apiVersion and kind, which list responses leave out of their items. */
export const withKind =
  <T extends KubeObject>(apiVersion: string, kind: string) =>
  (obj: T): T =>
    obj.kind === kind && obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion, kind };

/** A slim copy keeping only what a delete needs: kind, name, namespace and uid. */
export const identityOf = <T extends KubeObject>(obj: T): T => {
  const { name, namespace, uid } = obj.metadata ?? {};
  return {
    ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
    ...(obj.kind ? { kind: obj.kind } : {}),
    metadata: { name, ...(namespace ? { namespace } : {}), ...(uid ? { uid } : {}) },
  } as T;
};

export class Informer<T extends KubeObject> {
  private readonly state = newState<T>();
  private readonly abort = new AbortController();
  private firstSync?: FirstSync;
  private resolveFirst?: () => void;
  /** True once a list succeeded. */
  synced = false;
  /** False while the apiserver cannot be reached (for readiness and logs). */
  connected = false;
  /** True while the server does not serve the resource (its CRD is not installed): retried. */
  missing = false;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: InformerOptions<T>,
    private readonly handlers: InformerHandlers<T>,
    private readonly log: Logger,
  ) {}

  /** The objects by `namespace/name` (slim copies when the informer slims them). */
  get store(): ReadonlyMap<string, T> {
    return this.state.store;
  }

  /** Starts listing and watching; resolves after the first successful list. */
  start(): FirstSync {
    if (!this.firstSync) {
      this.firstSync = new Promise((r) => (this.resolveFirst = r));
      this.run().catch((err: unknown) =>
        this.log.error('informer stopped', { path: this.opts.path, ...errorFields(err) }),
      );
    }
    return this.firstSync;
  }

  stop(): void {
    this.abort.abort();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.state.store.get(namespacedKey(namespace, name));
  }

  /** Every object, or those of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.state.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const delay = this.opts.delay ?? defaultDelay;
    let plan = FIRST_PLAN;
    while (!this.stopped) {
      if (plan.delayMs > 0) await delay(plan.delayMs, this.abort.signal);
      if (this.stopped) return;
      const outcome = plan.next === 'list' ? await this.relist() : await this.watch();
      if (this.stopped) return;
      this.note(outcome);
      plan = nextPlan(plan, outcome, this.opts.random);
    }
  }

  /** Flags and logs for an outcome. A clean end is routine: no log; 410 Gone is noted at debug. */
  private note(outcome: Outcome): void {
    if (outcome.ok) return;
    const { error } = outcome;
    this.connected = false;
    const fields = { path: this.opts.path, ...errorFields(error) };
    if (isGone(error)) {
      this.log.debug('resourceVersion expired (410 Gone); relisting', fields);
      return;
    }
    if (outcome.step === 'watch') this.log.debug('watch ended', fields);
    else if (isNotFound(error)) {
      this.missing = true;
      this.log.debug('resource not served; retrying', fields);
    } else this.log.warn('list failed; retrying', fields);
  }

  private async relist(): Promise<Outcome> {
    const slim = this.opts.slim ?? whole;
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv: string;
    try {
      do {
        const page = await this.listPage(cont);
        this.emit(
          relistPage(
            this.state,
            seen,
            page.items.map((o) => this.transform(o)),
            slim,
          ),
        );
        cont = page.metadata.continue || undefined;
        rv = page.metadata.resourceVersion ?? '';
      } while (cont && !this.stopped);
    } catch (error) {
      return { ok: false, step: 'list', error };
    }
    if (this.stopped) return { ok: true, step: 'list' };
    this.emit(relistEnd(this.state, seen, rv));
    this.synced = true;
    this.connected = true;
    this.missing = false;
    this.resolveFirst?.();
    this.call(() => this.handlers.onSynced?.());
    return { ok: true, step: 'list' };
  }

  private listPage(cont: string | undefined): Promise<ListResult<T>> {
    const list = () =>
      this.client.request<ListResult<T>>('GET', this.opts.path, undefined, {
        query: {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          limit: PAGE_SIZE,
          continue: cont,
        },
        timeoutMs: LIST_PAGE_TIMEOUT_MS,
      });
    return this.opts.listGate ? this.opts.listGate(list) : list();
  }

  private async watch(): Promise<Outcome> {
    const slim = this.opts.slim ?? whole;
    let events = 0;
    try {
      await this.client.watch<T>(
        this.opts.path,
        {
          resourceVersion: this.state.resourceVersion || undefined,
          allowWatchBookmarks: true,
          timeoutSeconds:
            WATCH_TIMEOUT_S + Math.floor((this.opts.random ?? Math.random)() * WATCH_TIMEOUT_SPREAD_S),
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
        },
        (ev) => {
          events++;
          const object =
            ev.type === 'ERROR' || ev.type === 'BOOKMARK' ? ev.object : this.transform(ev.object);
          const change = applyEvent(this.state, { type: ev.type, object }, slim);
          if (change) this.emit([change]);
        },
        { signal: this.abort.signal, idleTimeoutMs: WATCH_IDLE_MS, onOpen: () => (this.connected = true) },
      );
    } catch (error) {
      return { ok: false, step: 'watch', error };
    }
    return { ok: true, step: 'watch', events };
  }

  private transform(obj: T): T {
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private emit(events: readonly InformerEvent<T>[]): void {
    for (const ev of events) {
      if (ev.type === 'delete') this.call(() => this.handlers.onDelete?.(ev.object));
      else this.call(() => this.handlers.onUpsert?.(ev.object, ev.type === 'update' ? ev.old : undefined));
    }
  }

  /** A handler that throws must not stop the informer (nor skip the other events). */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn('informer handler failed', { path: this.opts.path, ...errorFields(err) });
    }
  }
}
