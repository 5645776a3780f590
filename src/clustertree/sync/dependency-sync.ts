/**
 * ConfigMaps, Secrets, ServiceAccounts and PVCs follow pods into the leaf. A leaf copy is
 * marked `kosmos.io/global=true`; only marked copies are ever updated or deleted, so objects
 * a leaf admin created are left alone. A marked copy that no pod of that namespace uses any
 * more (neither a host pod bound to the cluster nor a Kosmos pod in the leaf) is deleted.
 * A PVC bound to a host PV takes a copy of that PV along (transform/volumes.ts); the copy is
 * deleted once no leaf PVC uses it, and the leaf PVC's status flows back to the host PVC.
 * A larger storage request on the host PVC is patched onto its leaf copies; a leaf that
 * refuses (its StorageClass does not allow expansion) is warned about and left alone. A
 * collected PVC copy takes its cluster off the host PVC's `kosmos-io/cluster-owners`.
 */
import { ANNOTATION_GLOBAL } from '../../api/constants.js';
import type { Pod } from '../../api/core.js';
import type { KubeObject } from '../../api/meta.js';
import { isAlreadyExists, isConflict, isNotFound, KubeApiError } from '../../common/kube.js';
import { KosmosError } from '../../common/errors.js';
import {
  HOST_CA_CONFIGMAP_IN_LEAF,
  LAST_APPLIED_ANNOTATION,
  ROOT_CA_CONFIGMAP,
  SA_NAME_ANNOTATION,
  SA_TOKEN_SECRET_TYPE,
} from '../names.js';
import {
  dependencyKey,
  leafConfigMapName,
  podDependencies,
  type Dependency,
  type DependencyKind,
} from '../transform/dependencies.js';
import {
  claimResizePatch,
  leafPvcFor,
  leafPvFor,
  ownersPatch,
  pvcStatusPatch,
  pvInUse,
  storageRequestOf,
  volumeNameOf,
  withOwner,
  withoutOwner,
} from '../transform/volumes.js';
import { clusterOfNode, type ClusterTreeContext } from './context.js';
import type { Leaf } from './leaf-registry.js';

type Obj = KubeObject & Record<string, unknown>;

const TOKEN_PREFIX = 'kosmos-';
const TOKEN_SUFFIX = '-token';

/** Per process: which host version each leaf copy was last written from, to skip needless GETs during a burst. */
const written = new Map<string, string>();
const memoKey = (cluster: string, ns: string, kind: string, leafName: string) =>
  `${cluster}/${ns}/${kind}/${leafName}`;

function apiVersionOf(_kind: DependencyKind): string {
  return 'v1';
}

function cacheFor(ctx: ClusterTreeContext, kind: DependencyKind) {
  if (kind === 'ConfigMap') return ctx.caches.configMaps;
  if (kind === 'Secret') return ctx.caches.secrets;
  if (kind === 'ServiceAccount') return ctx.caches.serviceAccounts;
  return undefined;
}

function isTokenSecretName(name: string): string | undefined {
  return name.startsWith(TOKEN_PREFIX) && name.endsWith(TOKEN_SUFFIX)
    ? name.slice(TOKEN_PREFIX.length, -TOKEN_SUFFIX.length)
    : undefined;
}

async function hostObject(
  ctx: ClusterTreeContext,
  ns: string,
  kind: DependencyKind,
  name: string,
): Promise<Obj | undefined> {
  const cached = cacheFor(ctx, kind)?.get(ns, name) as Obj | undefined;
  if (cached) return cached;
  return await ctx.host.getOrUndefined<Obj>('v1', kind, name, ns);
}

/** The host Secret with a long-lived token for a ServiceAccount, created on first use. */
async function hostTokenSecret(ctx: ClusterTreeContext, ns: string, name: string, sa: string): Promise<Obj> {
  const cached = ctx.caches.secrets.get(ns, name) as Obj | undefined;
  if ((cached?.['data'] as Record<string, string> | undefined)?.['token']) return cached as Obj;
  let secret = await hostObject(ctx, ns, 'Secret', name);
  if (!secret) {
    try {
      secret = await ctx.host.create<Obj>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns, annotations: { [SA_NAME_ANNOTATION]: sa } },
        type: SA_TOKEN_SECRET_TYPE,
      } as Obj);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  secret = await ctx.host.get<Obj>('v1', 'Secret', name, ns);
  const data = secret['data'] as Record<string, string> | undefined;
  if (!data?.['token'])
    throw new KosmosError(`host Secret ${ns}/${name}: the token controller has not filled in a token yet`);
  return secret;
}

function strippedMeta(o: Obj, leafName: string): NonNullable<KubeObject['metadata']> {
  const annotations = { ...(o.metadata?.annotations ?? {}) };
  delete annotations[LAST_APPLIED_ANNOTATION];
  delete annotations[SA_NAME_ANNOTATION];
  annotations[ANNOTATION_GLOBAL] = 'true';
  return {
    name: leafName,
    namespace: o.metadata?.namespace,
    ...(o.metadata?.labels ? { labels: { ...o.metadata.labels } } : {}),
    annotations,
  };
}

/** The leaf copy of a host object (without resourceVersion). */
export function leafCopy(kind: DependencyKind, o: Obj, leafName: string): Obj {
  const base: Obj = { apiVersion: 'v1', kind, metadata: strippedMeta(o, leafName) };
  if (kind === 'ConfigMap') {
    for (const f of ['data', 'binaryData', 'immutable']) if (o[f] !== undefined) base[f] = o[f];
  } else if (kind === 'Secret') {
    for (const f of ['data', 'immutable']) if (o[f] !== undefined) base[f] = o[f];
    // The leaf's token controller owns service-account-token Secrets; ours carry a host token.
    base['type'] = o['type'] === SA_TOKEN_SECRET_TYPE ? 'Opaque' : (o['type'] ?? 'Opaque');
  } else if (kind === 'ServiceAccount') {
    for (const f of ['automountServiceAccountToken', 'imagePullSecrets'])
      if (o[f] !== undefined) base[f] = o[f];
  } else {
    return leafPvcFor(o);
  }
  return base;
}

const CONTENT = ['data', 'binaryData', 'type', 'automountServiceAccountToken', 'imagePullSecrets'];

function sameContent(a: Obj, b: Obj): boolean {
  if (JSON.stringify(a.metadata?.labels ?? {}) !== JSON.stringify(b.metadata?.labels ?? {})) return false;
  return CONTENT.every((f) => JSON.stringify(a[f] ?? null) === JSON.stringify(b[f] ?? null));
}

export async function ensureNamespace(leaf: Leaf, ns: string): Promise<void> {
  const key = memoKey(leaf.name, '', 'Namespace', ns);
  if (written.has(key)) return;
  try {
    await leaf.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  written.set(key, 'exists');
}

/** Creates or updates the leaf copy of one host object; `force` skips the per-process memo. */
async function writeCopy(
  ctx: ClusterTreeContext,
  leaf: Leaf,
  ns: string,
  dep: Dependency,
  force: boolean,
): Promise<void> {
  const sa = dep.kind === 'Secret' ? isTokenSecretName(dep.name) : undefined;
  const host = sa
    ? await hostTokenSecret(ctx, ns, dep.name, sa)
    : await hostObject(ctx, ns, dep.kind, dep.name);
  if (!host) {
    // A pod can wait for a missing object in the leaf exactly as it would in the host.
    return;
  }
  const key = memoKey(leaf.name, ns, dep.kind, dep.leafName);
  const rv = host.metadata?.resourceVersion ?? '';
  if (!force && written.get(key) === rv) return;
  const want = leafCopy(dep.kind, host, dep.leafName);
  if (dep.kind === 'PersistentVolumeClaim') await prepareClaim(ctx, leaf, host);
  const current = await leaf.client.getOrUndefined<Obj>('v1', dep.kind, dep.leafName, ns);
  if (current && dep.kind === 'PersistentVolumeClaim') await claimStatusToHost(ctx, leaf, host, current);
  if (!current) {
    await ensureNamespace(leaf, ns);
    try {
      await leaf.client.create(want);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  } else if (current.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true') {
    // Not ours (e.g. the leaf's own default ServiceAccount): leave it.
  } else if (dep.kind === 'PersistentVolumeClaim') {
    await resizeClaimCopy(ctx, leaf, host, current);
  } else if (!sameContent(current, want)) {
    want.metadata = { ...want.metadata, resourceVersion: current.metadata?.resourceVersion };
    const path = await leaf.client.objectPath(want);
    try {
      await leaf.client.request('PUT', path, want);
    } catch (e) {
      if (isConflict(e))
        throw new KosmosError(
          `leaf ${leaf.name} ${dep.kind} ${ns}/${dep.leafName} changed while updating; retrying`,
        );
      throw e;
    }
  }
  written.set(key, rv);
}

/**
 * Before a host PVC is copied: the host PVC lists the cluster among its owners, and the host
 * PV it is bound (or pre-bound) to is in the leaf, pre-bound to the leaf copy of the claim.
 */
async function prepareClaim(ctx: ClusterTreeContext, leaf: Leaf, pvc: Obj): Promise<void> {
  const ns = pvc.metadata?.namespace ?? 'default';
  const name = pvc.metadata?.name ?? '';
  await changeOwners(ctx, pvc, (c) => withOwner(c, leaf.name));
  const volume = volumeNameOf(pvc);
  if (!volume) return;
  const hostPv = await ctx.host.getOrUndefined<Obj>('v1', 'PersistentVolume', volume);
  // A claim pre-bound to a volume that does not exist (yet) waits in the leaf as in the host.
  if (!hostPv) return;
  const existing = await leaf.client.getOrUndefined<Obj>('v1', 'PersistentVolume', volume);
  if (existing) {
    if (existing.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true')
      ctx.log.warn('a leaf PV with the name of a host PV was not created by Kosmos; not touching it', {
        cluster: leaf.name,
        name: volume,
      });
    return;
  }
  try {
    await leaf.client.create(leafPvFor(hostPv, ns, name));
    ctx.log.info('copied PV to the leaf', { cluster: leaf.name, name: volume, claim: `${ns}/${name}` });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}

const claimPath = (ns: string, name: string) =>
  `/api/v1/namespaces/${ns}/persistentvolumeclaims/${encodeURIComponent(name)}`;

/**
 * Sets the host PVC's `kosmos-io/cluster-owners` to what `change` makes of it (undefined: no
 * change), as a compare-and-swap on the resourceVersion, re-reading the PVC after a conflict.
 */
async function changeOwners(
  ctx: ClusterTreeContext,
  first: Obj,
  change: (pvc: Obj) => string | null | undefined,
): Promise<void> {
  const ns = first.metadata?.namespace ?? 'default';
  const name = first.metadata?.name ?? '';
  let pvc: Obj | undefined = first;
  for (let attempt = 0; pvc; attempt++) {
    const owners = change(pvc);
    if (owners === undefined) return;
    try {
      await ctx.host.request('PATCH', claimPath(ns, name), ownersPatch(pvc, owners), {
        contentType: 'application/merge-patch+json',
      });
      return;
    } catch (e) {
      if (isNotFound(e)) return;
      if (!isConflict(e) || attempt >= 4) throw e;
    }
    pvc = await ctx.host.getOrUndefined<Obj>('v1', 'PersistentVolumeClaim', name, ns);
  }
}

/** What a leaf apiserver answers when it will not resize a claim (StorageClass, claim not bound). */
const resizeRefused = (e: unknown): e is KubeApiError =>
  e instanceof KubeApiError && (e.status === 403 || e.status === 422);

/**
 * The leaf copy asks for the host PVC's storage when that is more. A leaf that refuses is
 * warned about once per host change and not retried: the job succeeds, the copy keeps its size.
 */
async function resizeClaimCopy(ctx: ClusterTreeContext, leaf: Leaf, host: Obj, copy: Obj): Promise<void> {
  const patch = claimResizePatch(host, copy);
  if (!patch) return;
  const ns = copy.metadata?.namespace ?? 'default';
  const name = copy.metadata?.name ?? '';
  const fields = {
    cluster: leaf.name,
    pvc: `${ns}/${name}`,
    from: storageRequestOf(copy),
    to: storageRequestOf(host),
  };
  try {
    await leaf.client.request('PATCH', claimPath(ns, name), patch, {
      contentType: 'application/merge-patch+json',
    });
    ctx.log.info('resized leaf PVC copy', fields);
  } catch (e) {
    if (isConflict(e))
      throw new KosmosError(`leaf ${leaf.name} PVC ${ns}/${name} changed while resizing; retrying`);
    if (!resizeRefused(e)) throw e;
    ctx.log.warn('the leaf refused to resize a PVC copy; it keeps its size', {
      ...fields,
      reason: e.reason,
      error: e.message,
    });
  }
}

/** The leaf PVC's phase, capacity and access modes → the host PVC, where this cluster owns it. */
async function claimStatusToHost(
  ctx: ClusterTreeContext,
  leaf: Leaf,
  host: Obj,
  leafPvc: Obj,
): Promise<void> {
  const status = pvcStatusPatch(host, leafPvc, leaf.name);
  if (!status) return;
  const ns = host.metadata?.namespace ?? 'default';
  await ctx.host.request(
    'PATCH',
    `${claimPath(ns, host.metadata?.name ?? '')}/status`,
    { status },
    { contentType: 'application/merge-patch+json' },
  );
}

/**
 * Deletes a leaf PV copy no leaf PVC uses any more. The leaf's binder marks the PV Released
 * right after its claim goes, so a changed PV (resourceVersion precondition) is checked again.
 */
export async function reconcileLeafVolume(ctx: ClusterTreeContext, leaf: Leaf, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const pv = await leaf.client.getOrUndefined<Obj>('v1', 'PersistentVolume', name);
    if (!pv || pv.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true') return;
    const claims = await leaf.client.list<Obj>('v1', 'PersistentVolumeClaim');
    if (pvInUse(pv, claims.items)) return;
    try {
      await leaf.client.request('DELETE', await leaf.client.objectPath(pv), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { resourceVersion: pv.metadata?.resourceVersion },
      });
      ctx.log.info('deleted unused leaf PV copy', { cluster: leaf.name, name });
      return;
    } catch (e) {
      if (isNotFound(e)) return;
      if (!isConflict(e) || attempt >= 4) throw e;
    }
  }
}

/** Everything a pod needs in the leaf, before the leaf pod is created. */
export async function ensureDependencies(ctx: ClusterTreeContext, leaf: Leaf, pod: Pod): Promise<void> {
  const ns = pod.metadata?.namespace ?? 'default';
  await ensureNamespace(leaf, ns);
  await Promise.all(podDependencies(pod).map((d) => writeCopy(ctx, leaf, ns, d, false)));
}

/** Leaf dependency keys ("ConfigMap/x") some pod of `cluster` in `ns` still uses. */
function inUse(ctx: ClusterTreeContext, leaf: Leaf, ns: string): Set<string> {
  const used = new Set<string>();
  for (const p of ctx.caches.pods.list()) {
    if (p.metadata?.namespace !== ns || clusterOfNode(ctx, p.spec.nodeName) !== leaf.name) continue;
    for (const d of podDependencies(p)) used.add(dependencyKey(d.kind, d.leafName));
  }
  for (const p of leaf.pods.list()) {
    if (p.metadata?.namespace !== ns) continue;
    for (const d of podDependencies(p)) used.add(dependencyKey(d.kind, d.leafName));
  }
  return used;
}

/**
 * Reconciles one leaf copy: updated while used and present in the host, deleted when the
 * host object is gone or no pod uses it any more.
 */
export async function reconcileDependency(
  ctx: ClusterTreeContext,
  leaf: Leaf,
  ns: string,
  kind: DependencyKind,
  name: string,
): Promise<void> {
  // Jobs raised from leaf pods name the leaf copy; the host CA has another name in the host.
  const hostName = kind === 'ConfigMap' && name === HOST_CA_CONFIGMAP_IN_LEAF ? ROOT_CA_CONFIGMAP : name;
  const leafName = kind === 'ConfigMap' ? leafConfigMapName(hostName) : hostName;
  const dep: Dependency = { kind, name: hostName, leafName };
  const used = inUse(ctx, leaf, ns).has(dependencyKey(kind, leafName));
  const hostObj = isTokenSecretName(hostName) ? { metadata: {} } : await hostObject(ctx, ns, kind, hostName);
  if (used && hostObj) {
    await writeCopy(ctx, leaf, ns, dep, true);
    return;
  }
  const current = await leaf.client.getOrUndefined<Obj>(apiVersionOf(kind), kind, leafName, ns);
  if (current && current.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true') return;
  if (current) {
    written.delete(memoKey(leaf.name, ns, kind, leafName));
    try {
      await leaf.client.request('DELETE', await leaf.client.objectPath(current), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { resourceVersion: current.metadata?.resourceVersion },
      });
      ctx.log.info('deleted unused leaf copy', { cluster: leaf.name, kind, namespace: ns, name: leafName });
    } catch (e) {
      if (isConflict(e)) return; // changed meanwhile: the job that changed it decides
      if (!isNotFound(e)) throw e;
    }
  }
  // The copy is gone (now, or by an earlier job that did not get this far): the cluster no
  // longer owns the host PVC.
  if (kind === 'PersistentVolumeClaim' && hostObj?.metadata?.name)
    await changeOwners(ctx, hostObj, (c) => withoutOwner(c, leaf.name));
}

/** Host object kinds whose changes propagate to leaf copies. */
export const SYNCED_KINDS: readonly DependencyKind[] = ['ConfigMap', 'Secret', 'ServiceAccount'];

/** Whether a host object is used by a pod of `cluster` (so its change should reach the leaf). */
export function usedInCluster(
  ctx: ClusterTreeContext,
  leaf: Leaf,
  ns: string,
  kind: DependencyKind,
  hostName: string,
): boolean {
  const leafName = kind === 'ConfigMap' ? leafConfigMapName(hostName) : hostName;
  return inUse(ctx, leaf, ns).has(dependencyKey(kind, leafName));
}
