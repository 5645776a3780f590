/**
 * Host pod ↔ leaf pod lifecycle, one pod at a time, from the current state of both sides:
 *
 * - host pod bound to a virtual node, leaf pod missing → dependencies, then the leaf pod;
 *   unless the host pod already shows a status from the leaf, which means the leaf pod was
 *   deleted out of band: then the host pod is removed so its controller replaces it;
 * - host pod terminating → the leaf pod is deleted with the host's grace period; once the
 *   leaf pod is gone, the host pod (which no kubelet will finalize) is removed;
 * - host pod gone → its leaf pod is deleted;
 * - host pod Kosmos does not run in leaves (transform/skip.ts: kube-system, DaemonSets) →
 *   nothing but an Event on it saying why;
 * - both there → what may change on a running pod (labels, annotations, images,
 *   activeDeadlineSeconds, added tolerations) is brought to the leaf pod
 *   (transform/pod-update.ts), then the leaf status to the host pod.
 * A leaf pod that is terminating while its host pod is not belongs to an earlier pod of the
 * same name (a StatefulSet replacement): the job retries until it is gone.
 */
import { LABEL_POD } from '../../api/constants.js';
import type { Pod } from '../../api/core.js';
import { KosmosError } from '../../common/errors.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../common/kube.js';
import { planVirtualNodes } from '../virtual-node/plan.js';
import { leafPodFor } from '../transform/pod.js';
import { leafPodUpdate } from '../transform/pod-update.js';
import { NOT_SYNCED_REASON, podNotSynced } from '../transform/skip.js';
import { hostStatusPatch, statusInSync } from '../transform/status.js';
import { clusterOfNode, type ClusterTreeContext } from './context.js';
import { ensureDependencies } from './dependency-sync.js';
import { podEventOnce } from './events.js';
import type { Leaf } from './leaf-registry.js';

export class RetryLater extends KosmosError {}

const podPath = (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`;

async function getPod(client: Leaf['client'], ns: string, name: string): Promise<Pod | undefined> {
  try {
    return await client.request<Pod>('GET', podPath(ns, name));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The watch cache's copy when it is exactly the version that caused the job, else the apiserver's. */
async function current(
  cache: { get(ns: string, name: string): Pod | undefined },
  client: Leaf['client'],
  ns: string,
  name: string,
  rv: string | undefined,
): Promise<Pod | undefined> {
  const cached = cache.get(ns, name);
  if (rv && cached?.metadata?.resourceVersion === rv) return cached;
  return await getPod(client, ns, name);
}

/**
 * Whether the cache holds a later version than `rv`. resourceVersions are opaque in general;
 * from one apiserver over etcd they are increasing integers, and anything else is treated as
 * "not known to be newer" so the caller falls back to reading the apiserver.
 */
export function newerInCache(cached: string | undefined, rv: string): boolean {
  if (!cached || !/^\d+$/.test(cached) || !/^\d+$/.test(rv)) return false;
  return BigInt(cached) > BigInt(rv);
}

const ours = (p: Pod | undefined): p is Pod => p?.metadata?.labels?.[LABEL_POD] === 'true';

/** The leaf status has reached the host pod at least once: its leaf pod existed. */
const hadLeafPod = (host: Pod): boolean =>
  Boolean(host.status?.startTime || host.status?.podIP || host.status?.containerStatuses?.length);

async function forceDeleteHost(
  ctx: ClusterTreeContext,
  host: Pod,
  cluster: string,
  reason: string,
): Promise<void> {
  const ns = host.metadata?.namespace ?? 'default';
  const name = host.metadata?.name ?? '';
  try {
    await ctx.host.request('DELETE', podPath(ns, name), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 0,
      preconditions: { uid: host.metadata?.uid },
    });
    ctx.metrics.hostPodsRemoved.inc({ cluster, reason });
    ctx.log.info('host pod removed', { cluster, namespace: ns, name, reason });
  } catch (e) {
    // Gone already, or replaced by a newer pod of the same name (uid precondition): nothing to do.
    if (!isNotFound(e) && !(e instanceof Error && /Precondition failed|409/.test(e.message))) throw e;
  }
}

export function leafPodOf(ctx: ClusterTreeContext, leaf: Leaf, host: Pod): Pod {
  const nodeName = host.spec.nodeName ?? '';
  const node = ctx.caches.nodes.get(undefined, nodeName);
  const plan = planVirtualNodes(leaf.cluster, []).find((p) => p.name === nodeName);
  return leafPodFor(host, {
    mode: plan?.mode ?? 'one2cluster',
    virtualNodeLabels: node?.metadata?.labels ?? {},
    ...(plan?.memberNodeName ? { memberNodeName: plan.memberNodeName } : {}),
    ...(plan?.partySelector ? { partySelector: plan.partySelector } : {}),
    policies: {
      cluster: ctx.caches.clusterPodConvertPolicies.list(),
      namespaced: ctx.caches.podConvertPolicies.list(),
    },
    hostApiserver: ctx.hostApiserver,
  });
}

export async function syncStatus(ctx: ClusterTreeContext, host: Pod, leafPod: Pod): Promise<void> {
  if (statusInSync(host, leafPod)) return;
  const ns = host.metadata?.namespace ?? 'default';
  await ctx.host.request(
    'PATCH',
    `${podPath(ns, host.metadata?.name ?? '')}/status`,
    { status: hostStatusPatch(leafPod) },
    {
      contentType: 'application/merge-patch+json',
    },
  );
}

/** Host pod changes → the leaf pod; a stale cached leaf pod (409) is re-read once. */
async function updateLeafPod(ctx: ClusterTreeContext, leaf: Leaf, host: Pod, cached: Pod): Promise<void> {
  const desired = leafPodOf(ctx, leaf, host);
  let leafPod: Pod | undefined = cached;
  for (let attempt = 0; leafPod && ours(leafPod); attempt++) {
    const next = leafPodUpdate(desired, leafPod);
    if (!next) return;
    const ns = next.metadata?.namespace ?? 'default';
    const name = next.metadata?.name ?? '';
    try {
      await leaf.client.request('PUT', podPath(ns, name), next);
      ctx.log.debug('leaf pod updated from the host pod', { cluster: leaf.name, namespace: ns, name });
      return;
    } catch (e) {
      if (!isConflict(e) || attempt > 0) throw e;
    }
    leafPod = await getPod(leaf.client, ns, name);
  }
}

export async function syncPod(
  ctx: ClusterTreeContext,
  cluster: string,
  ns: string,
  name: string,
  rv?: string,
): Promise<void> {
  const leaf = ctx.leaves.get(cluster);
  if (!leaf) throw new RetryLater(`leaf cluster ${cluster} is not (yet) known to this worker`);
  const host = await current(ctx.caches.pods, ctx.host, ns, name, rv);
  // The leaf watch cache is enough to decide to create (AlreadyExists is harmless) or to sync a
  // status; anything destructive below re-reads the leaf apiserver first.
  let leafPod = leaf.pods.get(ns, name);
  const bound = host !== undefined && clusterOfNode(ctx, host.spec.nodeName) === cluster;

  const confirmLeaf = async () => (leafPod = await getPod(leaf.client, ns, name));
  if (!host) {
    // The host pod is gone: its leaf pod goes too.
    await confirmLeaf();
    if (ours(leafPod) && !leafPod.metadata?.deletionTimestamp) await leaf.client.delete(leafPod);
    return;
  }
  // Not (or no longer visibly) on one of this cluster's virtual nodes: never act on a guess.
  if (!bound) return;
  if (host.metadata?.deletionTimestamp) {
    await confirmLeaf();
    if (!ours(leafPod)) {
      await forceDeleteHost(ctx, host, cluster, 'deleted');
      return;
    }
    if (!leafPod.metadata?.deletionTimestamp) {
      const grace = host.metadata.deletionGracePeriodSeconds ?? host.spec['terminationGracePeriodSeconds'];
      await leaf.client.delete(leafPod, typeof grace === 'number' ? { gracePeriodSeconds: grace } : {});
    }
    return; // the leaf pod's deletion event brings us back to remove the host pod
  }
  const skip = podNotSynced(host, cluster);
  if (skip) {
    // Left Pending in the host, and said so on the pod; a leaf pod made before the rule is left alone.
    await podEventOnce(ctx, host, { cause: skip.cause, reason: NOT_SYNCED_REASON, message: skip.message });
    return;
  }
  if (!leafPod && hadLeafPod(host)) await confirmLeaf();
  if (!leafPod) {
    if (hadLeafPod(host)) {
      await forceDeleteHost(ctx, host, cluster, 'leaf pod deleted out of band');
      return;
    }
    await ensureDependencies(ctx, leaf, host);
    try {
      await leaf.client.create(leafPodOf(ctx, leaf, host));
      ctx.metrics.leafPodsCreated.inc({ cluster });
      return;
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    // The cache was behind: the leaf pod exists; carry on with it.
    if (!(await confirmLeaf())) throw new RetryLater(`leaf pod ${ns}/${name} exists and does not`);
  }
  if (!ours(leafPod)) {
    ctx.log.warn('a leaf pod with the same name was not created by Kosmos; leaving both alone', {
      cluster,
      namespace: ns,
      name,
    });
    return;
  }
  if (leafPod.metadata?.deletionTimestamp)
    throw new RetryLater(`leaf pod ${ns}/${name} of an earlier host pod is still terminating`);
  await updateLeafPod(ctx, leaf, host, leafPod);
  await syncStatus(ctx, host, leafPod).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
}

/** Leaf → host status only (leaf pod events); creation and deletion stay with syncPod. */
export async function syncPodStatus(
  ctx: ClusterTreeContext,
  cluster: string,
  ns: string,
  name: string,
  rv?: string,
): Promise<void> {
  const leaf = ctx.leaves.get(cluster);
  if (!leaf) throw new RetryLater(`leaf cluster ${cluster} is not (yet) known to this worker`);
  if (rv && newerInCache(leaf.pods.get(ns, name)?.metadata?.resourceVersion, rv)) {
    // This process saw a later version of the leaf pod, which got a job of its own (or needed
    // none, the host already showing it): during a burst most status jobs end here, for free.
    return;
  }
  const leafPod = await current(leaf.pods, leaf.client, ns, name, rv);
  // Only a status is written from here: the host cache is good enough, and a stale host copy
  // costs at most one redundant merge patch.
  const host = ctx.caches.pods.get(ns, name) ?? (await getPod(ctx.host, ns, name));
  if (!host || !ours(leafPod) || clusterOfNode(ctx, host.spec.nodeName) !== cluster) return;
  if (host.metadata?.deletionTimestamp || leafPod.metadata?.deletionTimestamp) return;
  await syncStatus(ctx, host, leafPod).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
}
