/**
 * The express adapter: kube-scheduler's filter, prioritize and bind verbs over the pure
 * placement core, plus /healthz, /readyz and /metrics. Bad input gets HTTP 400 with a
 * one-line reason (and, for filter, an ExtenderFilterResult whose Error says it); nothing
 * a client sends can stop the server or reach it as a stack trace.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { createLogger, errorFields, type Logger } from '../common/logger.js';
import { createRegistry, observabilityRouter, type ReadinessCheck } from '../common/observability.js';
import type { ExtenderCache } from './cache.js';
import { decideFilter } from './decide.js';
import type { EventRecorder, PodBinder } from './kube-adapters.js';
import { extenderMetrics, type ExtenderMetrics } from './metrics.js';
import {
  DEFAULT_OPTIONS,
  filterPod,
  prioritizePod,
  summarise,
  type FilterDecision,
  type PlacementOptions,
} from './placement/engine.js';
import { toNodeView } from './placement/node-view.js';
import { toPodView } from './placement/pod-view.js';
import { policyKey } from './placement/replica-ratio/index.js';
import type { NodeView, PlacementWorld, PodView } from './placement/types.js';
import {
  BadRequest,
  parseBindingArgs,
  parseExtenderArgs,
  parsePreemptionArgs,
  type ExtenderPreemptionResult,
  type ExtenderArgs,
  type ExtenderBindingResult,
  type ExtenderFilterResult,
} from './protocol.js';
import type { ReservationStore } from './reservations/store.js';
import { MemoryHoldStore, type HoldStore } from './reservations/hold-store.js';
import { HoldSync } from './hold-sync.js';
import type { HoldPlacement } from './fit-index/fit-index.js';
import { namespacedKey } from '../common/object-key.js';
import { KosmosError } from '../common/errors.js';

export interface ExtenderAppDeps {
  cache: ExtenderCache;
  store: ReservationStore;
  /** Without a binder the bind verb answers with an Error (configure bindVerb only with one). */
  binder?: PodBinder;
  events?: EventRecorder;
  logger?: Logger;
  registry?: Registry;
  placement?: PlacementOptions;
  /** How long a filter-time domain reservation counts without a bind. */
  reservationTtlMs?: number;
  /** How long a bound pod's reservations count while informers catch up. */
  boundTtlMs?: number;
  /** How long a filter-time member-capacity hold lasts without a bind. */
  tentativeTtlMs?: number;
  /** Member-capacity holds, shared by replicas (Redis) or not (memory, the default). */
  holds?: HoldStore;
  readiness?: ReadinessCheck[];
}

/** PodViews of recent filter calls, so bind (which only gets names) knows requests and constraints. */
class RecentPods {
  private readonly map = new Map<string, PodView>();
  constructor(private readonly max = 20_000) {}
  set(v: PodView): void {
    this.map.delete(v.uid);
    this.map.set(v.uid, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  get(uid: string): PodView | undefined {
    return this.map.get(uid);
  }
}

/** A world whose nodes came inline in the request (nodeCacheCapable: false). */
function inlineWorld(cache: ExtenderCache, nodes: Map<string, NodeView>): PlacementWorld {
  return {
    node: (name) => nodes.get(name),
    policies: () => cache.policies(),
    workloadPolicy: (ns, n) => cache.workloadPolicy(ns, n),
    workloadCounts: (p, uid) => cache.workloadCounts(p, uid),
    pvc: (ns, n) => cache.pvc(ns, n),
    pv: (n) => cache.pv(n),
    memberFit: (node, pod, best) => cache.memberFit(node, pod, best),
    hostFit: (node, pod) => cache.hostFit(node, pod),
  };
}

function emptyFilterResult(error: string): ExtenderFilterResult {
  return { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: error };
}

export interface ExtenderApp {
  app: Express;
  metrics: ExtenderMetrics;
  registry: Registry;
}

export function createExtenderApp(deps: ExtenderAppDeps): ExtenderApp {
  const log = deps.logger ?? createLogger('extender');
  const registry = deps.registry ?? createRegistry('extender');
  const metrics = extenderMetrics(registry);
  const placement = deps.placement ?? DEFAULT_OPTIONS;
  const reservationTtlMs = deps.reservationTtlMs ?? 30_000;
  const boundTtlMs = deps.boundTtlMs ?? 120_000;
  const tentativeTtlMs = deps.tentativeTtlMs ?? 10_000;
  const { cache, store } = deps;
  const holds = new HoldSync(deps.holds ?? new MemoryHoldStore(), cache.members);
  // A pod seen in its leaf (or deleted) releases its hold everywhere, not only here.
  // A deleted pod's domain reservation must not hold a slot a replacement pod needs.
  cache.onReservationGone = (policy, uid) => {
    store
      .release(policy, uid)
      .catch((err: unknown) =>
        log.debug('releasing a reservation failed', { policy, uid, ...errorFields(err) }),
      );
  };
  cache.onHolderGone = (holder) => {
    holds
      .drop(holder)
      .catch((err: unknown) => log.debug('dropping a hold failed', { holder, ...errorFields(err) }));
  };
  const recent = new RecentPods();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(observabilityRouter(registry, deps.readiness ?? []));
  // NodeLists of thousands of nodes arrive when the scheduler is not nodeCacheCapable.
  app.use(express.json({ limit: '256mb' }));

  function worldFor(args: ExtenderArgs): {
    world: PlacementWorld;
    names: string[];
    inline?: Map<string, NodeView>;
  } {
    if (args.NodeNames) return { world: cache, names: args.NodeNames };
    const inline = new Map<string, NodeView>();
    const names: string[] = [];
    for (const n of args.Nodes?.items ?? []) {
      const view = toNodeView(n);
      inline.set(
        view.name,
        cache.node(view.name)?.scope ? { ...view, scope: cache.node(view.name)!.scope! } : view,
      );
      names.push(view.name);
    }
    return { world: inlineWorld(cache, inline), names, inline };
  }

  app.post('/filter', async (req: Request, res: Response) => {
    const end = metrics.latency.startTimer({ verb: 'filter' });
    try {
      const args = parseExtenderArgs(req.body);
      const pod = toPodView(args.Pod);
      const { world, names } = worldFor(args);
      const holder = namespacedKey(pod.namespace, pod.name);
      const needsHolds = Object.entries(pod.requests).some(([r, v]) => r !== 'pods' && v > 0);
      let decision: FilterDecision | undefined;
      for (let attempt = 1; !decision; attempt++) {
        const basis = await holds.refresh();
        // A pod filtered again (a retry) must not be blocked by its own earlier holds.
        const hadHolds = cache.members.holdsOf(holder).length > 0;
        cache.members.setHolder(holder, []);
        const d = await decideFilter(pod, names, {
          cache,
          store,
          reservationTtlMs,
          ...(world === cache ? {} : { world }),
        });
        const placements = needsHolds ? burstHolds(pod, d.passedLeaves ?? []) : [];
        if (placements.length === 0) {
          // Nothing to hold now: the earlier holds must not linger for other pods either.
          if (hadHolds) await holds.drop(holder);
          decision = d;
        } else if (await holds.place(holder, placements, tentativeTtlMs, basis)) decision = d;
        else if (attempt >= 5) decision = withoutLeaves(d, world);
      }
      recent.set(pod);
      const failed: Record<string, string> = {};
      const unresolvable: Record<string, string> = {};
      const byRule = new Map<string, number>();
      for (const r of decision.rejected) {
        (r.unresolvable ? unresolvable : failed)[r.node] = r.reason;
        byRule.set(r.rule, (byRule.get(r.rule) ?? 0) + 1);
      }
      for (const [rule, n] of byRule) metrics.rejections.inc({ rule }, n);
      const result: ExtenderFilterResult = {
        Nodes: null,
        NodeNames: null,
        FailedNodes: failed,
        FailedAndUnresolvableNodes: unresolvable,
        Error: '',
      };
      if (args.NodeNames) result.NodeNames = decision.passed;
      else {
        const keep = new Set(decision.passed);
        result.Nodes = { items: (args.Nodes?.items ?? []).filter((n) => keep.has(n.metadata?.name ?? '')) };
      }
      res.json(result);
      const placed = decision.passed.length > 0;
      metrics.requests.inc({ verb: 'filter', outcome: placed ? 'placed' : 'unschedulable' });
      if (!placed && names.length > 0) {
        const message = summarise(pod, decision, names.length);
        log.info('no node fits', { pod: `${pod.namespace}/${pod.name}`, message });
        deps.events?.unschedulable({ namespace: pod.namespace, name: pod.name, uid: pod.uid }, message);
      }
    } catch (err) {
      answerError(res, 'filter', err, (reason) => emptyFilterResult(reason));
    } finally {
      end();
    }
  });

  app.post('/prioritize', (req: Request, res: Response) => {
    const end = metrics.latency.startTimer({ verb: 'prioritize' });
    try {
      const args = parseExtenderArgs(req.body);
      const pod = toPodView(args.Pod);
      const { world, names } = worldFor(args);
      res.json(prioritizePod(pod, names, world, placement));
      metrics.requests.inc({ verb: 'prioritize', outcome: 'scored' });
    } catch (err) {
      answerError(res, 'prioritize', err, (reason) => ({ Error: reason }));
    } finally {
      end();
    }
  });

  /**
   * Preemption candidates the extender agrees with: only nodes the pod passes every rule on.
   * Host nodes we reject fail a rule that evicting pods cannot change (policy, taints,
   * volumes); leaf nodes we reject lack a member chunk, and evicting host-side pods of a
   * virtual node is not known to free that chunk, so they are dropped too (conservative).
   * No reservation is taken: the pod comes back through filter after preemption.
   */
  app.post('/preempt', (req: Request, res: Response) => {
    const end = metrics.latency.startTimer({ verb: 'preempt' });
    try {
      const { pod: raw, candidates } = parsePreemptionArgs(req.body);
      const pod = toPodView(raw);
      const decision = filterPod(pod, Object.keys(candidates), cache);
      const result: ExtenderPreemptionResult = { NodeNameToMetaVictims: {} };
      for (const node of decision.passed)
        result.NodeNameToMetaVictims[node] = candidates[node] as (typeof candidates)[string];
      res.json(result);
      metrics.requests.inc({ verb: 'preempt', outcome: 'answered' });
    } catch (err) {
      answerError(res, 'preempt', err, (reason) => ({ Error: reason }));
    } finally {
      end();
    }
  });

  app.post('/bind', async (req: Request, res: Response) => {
    const end = metrics.latency.startTimer({ verb: 'bind' });
    try {
      const args = parseBindingArgs(req.body);
      if (!deps.binder) throw new KosmosError('this extender has no apiserver connection to bind with');
      const ref = { namespace: args.PodNamespace, name: args.PodName, uid: args.PodUID };
      await holdForBind(ref, args.Node);
      await deps.binder.bind(ref, args.Node);
      await recordPlacement(ref, args.Node);
      const result: ExtenderBindingResult = { Error: '' };
      res.json(result);
      metrics.requests.inc({ verb: 'bind', outcome: 'bound' });
    } catch (err) {
      if (err instanceof BadRequest) answerError(res, 'bind', err, (reason) => ({ Error: reason }));
      else {
        // The scheduler reads Error and retries the pod; a 200 keeps its log message ours.
        log.warn('bind failed', errorFields(err));
        metrics.requests.inc({ verb: 'bind', outcome: 'error' });
        res.json({ Error: err instanceof Error ? err.message : String(err) } satisfies ExtenderBindingResult);
      }
    } finally {
      end();
    }
  });

  /**
   * Between filter and bind the scheduler already works on the next pod; hold this pod's
   * chunk on every leaf it passed so that pod is not promised the same member capacity.
   */
  function burstHolds(pod: PodView, leaves: readonly NodeView[]): HoldPlacement[] {
    const placements: HoldPlacement[] = [];
    for (const node of leaves) {
      if (!node.cluster) continue;
      const fit = cache.memberFit(node, pod);
      if (fit?.ok && fit.memberNode) {
        placements.push({ cluster: node.cluster, node: fit.memberNode, requests: pod.requests });
      }
    }
    return placements;
  }

  /** Holds kept conflicting with other replicas: answer with host nodes only, the pod retries. */
  function withoutLeaves(d: FilterDecision, world: PlacementWorld): FilterDecision {
    const passed: string[] = [];
    const rejected = [...d.rejected];
    for (const name of d.passed) {
      if (world.node(name)?.leaf) {
        rejected.push({
          node: name,
          rule: 'fragmented-fit',
          unresolvable: false,
          reason: 'member capacity changed concurrently; retrying',
        });
      } else passed.push(name);
    }
    return { ...d, passed, rejected, passedLeaves: [] };
  }

  /**
   * Before the Binding is written: keep only the chosen leaf's member hold, for the bound
   * TTL. Done first, not after the apiserver answers: the filter's hold lasts only
   * tentativeTtlMs, and a Binding that takes longer (a loaded apiserver) would otherwise find
   * it expired, leaving a pod bound to the leaf with its member chunk free for the next pod
   * until the leaf's scheduler places it. A bind that fails keeps the hold; the scheduler's
   * next filter of the pod replaces it, and deleting the pod drops it.
   */
  async function holdForBind(ref: { namespace: string; name: string }, nodeName: string): Promise<void> {
    const node = cache.node(nodeName);
    const holder = namespacedKey(ref.namespace, ref.name);
    try {
      if (node?.leaf && node.cluster) await holds.narrow(holder, node.cluster, boundTtlMs);
      else await holds.drop(holder);
      metrics.reservations.set(cache.members.holdCount());
    } catch (err) {
      log.warn('updating member holds for bind failed; they expire on their own', {
        pod: holder,
        ...errorFields(err),
      });
    }
  }

  /** After a successful bind: extend the domain reservation. */
  async function recordPlacement(
    ref: { namespace: string; name: string; uid: string },
    nodeName: string,
  ): Promise<void> {
    const pod = recent.get(ref.uid);
    const holder = namespacedKey(ref.namespace, ref.name);
    if (pod?.workloadPolicy) {
      const wlp = cache.workloadPolicy(pod.namespace, pod.workloadPolicy);
      if (wlp) {
        try {
          await store.confirm(policyKey(wlp), pod.uid, nodeName, boundTtlMs);
        } catch (err) {
          log.warn('confirming reservation failed; it will expire on its own', {
            pod: holder,
            ...errorFields(err),
          });
        }
      }
    }
  }

  function answerError(res: Response, verb: string, err: unknown, body: (reason: string) => object): void {
    if (err instanceof BadRequest) {
      metrics.requests.inc({ verb, outcome: 'bad_request' });
      res.status(400).json(body(err.message));
      return;
    }
    log.error(`${verb} failed`, errorFields(err));
    metrics.requests.inc({ verb, outcome: 'error' });
    const reason = `${verb} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    res.status(500).json(body(reason));
  }

  // Body-parser errors (malformed JSON, too large) arrive here, before any route.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 400;
    const reason =
      e.type === 'entity.parse.failed'
        ? `malformed JSON in ${req.path.slice(1) || 'request'} body`
        : e.type === 'entity.too.large'
          ? 'request body too large'
          : `bad request: ${(e.message ?? 'unreadable body').split('\n')[0]}`;
    metrics.requests.inc({ verb: req.path.slice(1) || 'unknown', outcome: 'bad_request' });
    if (req.path === '/filter') res.status(status).json(emptyFilterResult(reason));
    else res.status(status).json({ Error: reason });
  });

  return { app, metrics, registry };
}
