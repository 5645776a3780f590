/**
 * The filter decision with its side effect: run the pure core, and if it narrowed a
 * WorkloadPolicy pod to a domain, reserve that domain (compare-and-set on the policy's
 * version) before the answer leaves. On a conflict (another replica, or a concurrent call)
 * re-read the reservations and decide again.
 */
import type { ExtenderCache } from './cache.js';
import { filterPod, type FilterDecision } from './placement/engine.js';
import type { PlacementWorld, PodView } from './placement/types.js';
import { policyKey } from './placement/replica-ratio/index.js';
import type { ReservationStore } from './reservations/store.js';

export interface DecideDeps {
  cache: ExtenderCache;
  store: ReservationStore;
  /** How long a filter-time reservation counts without a bind (the scheduler may drop the pod). */
  reservationTtlMs: number;
  /** World override (nodes sent inline when the scheduler is not nodeCacheCapable). */
  world?: PlacementWorld;
}

const MAX_ATTEMPTS = 20;

/** Per-policy queue inside one process: local calls never conflict with each other, only with other replicas. */
const queues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  // The queue's tail never rejects (a failure is the caller's, through `next`) and removes
  // itself once nothing was queued behind it.
  const tail: Promise<void> = next
    .catch(() => undefined)
    .then(() => {
      if (queues.get(key) === tail) queues.delete(key);
    });
  queues.set(key, tail);
  return next;
}

export async function decideFilter(
  pod: PodView,
  nodeNames: readonly string[],
  deps: DecideDeps,
): Promise<FilterDecision> {
  const world = deps.world ?? deps.cache;
  const wlp =
    pod.workloadPolicy && !pod.daemonSet
      ? world.workloadPolicy(pod.namespace, pod.workloadPolicy)
      : undefined;
  if (!wlp) return filterPod(pod, nodeNames, world);
  const key = policyKey(wlp);
  return await serialised(`${storeId(deps.store)}:${key}`, () =>
    decideReserved(pod, nodeNames, deps, world, key),
  );
}

const storeIds = new WeakMap<object, number>();
let nextStoreId = 1;
function storeId(store: object): number {
  let id = storeIds.get(store);
  if (id === undefined) {
    id = nextStoreId++;
    storeIds.set(store, id);
  }
  return id;
}

async function decideReserved(
  pod: PodView,
  nodeNames: readonly string[],
  deps: DecideDeps,
  world: PlacementWorld,
  key: string,
): Promise<FilterDecision> {
  for (let attempt = 1; ; attempt++) {
    const snap = await deps.store.snapshot(key);
    // Synchronous from here to the reserve call's start: the cache mirror and the decision agree.
    deps.cache.setReservations(key, snap.entries);
    const decision = filterPod(pod, nodeNames, world);
    if (!decision.reserve) return decision;
    if (
      await deps.store.reserve(key, snap.version, pod.uid, decision.reserve.domain, deps.reservationTtlMs)
    ) {
      deps.cache.setReservations(key, [
        ...snap.entries.filter((e) => e.uid !== pod.uid),
        { uid: pod.uid, domain: decision.reserve.domain },
      ]);
      return decision;
    }
    // Another replica wrote first: back off a little (jittered) so the two do not collide again.
    await new Promise((r) => setTimeout(r, Math.random() * 2 * attempt));
    if (attempt >= MAX_ATTEMPTS) {
      const reason = `workload policy ${key}: reservations changed ${MAX_ATTEMPTS} times while deciding; retrying later`;
      return {
        passed: [],
        rejected: [
          ...decision.rejected,
          ...decision.passed.map((node) => ({
            node,
            rule: 'workload-policy' as const,
            reason,
            unresolvable: false,
          })),
        ],
      };
    }
  }
}
