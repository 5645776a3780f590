/**
 * PersistentVolumeClaims and their PersistentVolumes in the leaf, and the leaf claim's status
 * back in the host:
 *
 * - a host claim bound (or pre-bound through spec.volumeName) to a host volume gets a leaf
 *   copy of that volume, pre-bound to the leaf claim (claimRef by namespace and name, no uid:
 *   the leaf's binder completes it) and with reclaim policy Retain, so deleting the copy never
 *   deletes the data behind it;
 * - the host claim lists the clusters it was copied to in `kosmos-io/cluster-owners` (comma
 *   list, first come first); the first owner's leaf claim is the one whose status (phase,
 *   capacity, access modes) the host claim shows, and only once the host claim names a
 *   volume: an unbound host claim belongs to the host's binder, which resets it to Pending;
 * - a cluster whose leaf claim copy is collected leaves `kosmos-io/cluster-owners` again;
 * - a larger storage request on the host claim raises the leaf copies' request (never lowers
 *   it: Kubernetes refuses to shrink a claim).
 */
import { ANNOTATION_CLUSTER_OWNERS, ANNOTATION_GLOBAL } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import { parseUnits } from '../../common/quantity.js';
import { LAST_APPLIED_ANNOTATION } from '../names.js';

export type Obj = KubeObject & Record<string, unknown>;

/** Annotations the binder of one cluster writes; a copy carrying them would confuse the other's. */
const BINDER_ANNOTATIONS = [
  'pv.kubernetes.io/bind-completed',
  'pv.kubernetes.io/bound-by-controller',
  'volume.kubernetes.io/selected-node',
  LAST_APPLIED_ANNOTATION,
];

const specOf = (o: Obj): Record<string, unknown> => (o['spec'] as Record<string, unknown> | undefined) ?? {};

/** The host volume a claim is bound or pre-bound to. */
export const volumeNameOf = (pvc: Obj): string | undefined => {
  const v = specOf(pvc)['volumeName'];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

function copiedAnnotations(o: Obj): Record<string, string> {
  const a = { ...(o.metadata?.annotations ?? {}) };
  for (const k of BINDER_ANNOTATIONS) delete a[k];
  delete a[ANNOTATION_CLUSTER_OWNERS];
  a[ANNOTATION_GLOBAL] = 'true';
  return a;
}

/** The leaf copy of a host claim: same spec (volumeName included), without the host binder's marks. */
export function leafPvcFor(host: Obj): Obj {
  const spec = { ...specOf(host) };
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: host.metadata?.name,
      namespace: host.metadata?.namespace,
      ...(host.metadata?.labels ? { labels: { ...host.metadata.labels } } : {}),
      annotations: copiedAnnotations(host),
    },
    spec,
  };
}

/** The leaf copy of a host volume, pre-bound to the leaf claim `namespace/claim`, never deleting data. */
export function leafPvFor(host: Obj, namespace: string, claim: string): Obj {
  const spec: Record<string, unknown> = {
    ...specOf(host),
    claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: claim },
    persistentVolumeReclaimPolicy: 'Retain',
  };
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: host.metadata?.name,
      ...(host.metadata?.labels ? { labels: { ...host.metadata.labels } } : {}),
      annotations: copiedAnnotations(host),
    },
    spec,
  };
}

export const ownersOf = (o: KubeObject): string[] =>
  (o.metadata?.annotations?.[ANNOTATION_CLUSTER_OWNERS] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The owners annotation with `cluster` appended, or undefined when it is listed already. */
export function withOwner(o: KubeObject, cluster: string): string | undefined {
  const owners = ownersOf(o);
  return owners.includes(cluster) ? undefined : [...owners, cluster].join(',');
}

/** The owners annotation without `cluster` (null: no owner is left), or undefined when it is not listed. */
export function withoutOwner(o: KubeObject, cluster: string): string | null | undefined {
  const owners = ownersOf(o);
  if (!owners.includes(cluster)) return undefined;
  const rest = owners.filter((c) => c !== cluster);
  return rest.length > 0 ? rest.join(',') : null;
}

/**
 * A merge patch setting the owners annotation (null removes it), applied only to the version
 * of the claim it was computed from: the resourceVersion makes it a compare-and-swap, so two
 * workers adding or removing different clusters never lose each other's change.
 */
export function ownersPatch(o: KubeObject, owners: string | null): Record<string, unknown> {
  return {
    metadata: {
      resourceVersion: o.metadata?.resourceVersion,
      annotations: { [ANNOTATION_CLUSTER_OWNERS]: owners },
    },
  };
}

/** The storage a claim requests (spec.resources.requests.storage). */
export function storageRequestOf(pvc: KubeObject): string | undefined {
  const resources = specOf(pvc as Obj)['resources'] as { requests?: Record<string, unknown> } | undefined;
  const q = resources?.requests?.['storage'];
  return typeof q === 'string' || typeof q === 'number' ? String(q) : undefined;
}

function bytes(q: string): number | undefined {
  try {
    return parseUnits(q);
  } catch {
    return undefined;
  }
}

/**
 * The merge patch that raises a leaf claim copy's storage request to the host claim's, or
 * undefined when the copy is not ours or asks for as much already. Never smaller: Kubernetes
 * forbids shrinking a claim. The resourceVersion keeps a concurrent change from being undone.
 */
export function claimResizePatch(host: Obj, leaf: Obj): Record<string, unknown> | undefined {
  if (leaf.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true') return undefined;
  const want = storageRequestOf(host);
  const wantBytes = want === undefined ? undefined : bytes(want);
  if (want === undefined || wantBytes === undefined) return undefined;
  const have = storageRequestOf(leaf);
  const haveBytes = have === undefined ? 0 : bytes(have);
  if (haveBytes === undefined || wantBytes <= haveBytes) return undefined;
  return {
    metadata: { resourceVersion: leaf.metadata?.resourceVersion },
    spec: { resources: { requests: { storage: want } } },
  };
}

/**
 * The clusters whose leaf copies must be looked at for a resize: every owner when the host
 * claim's storage request changed, or when the claim is seen for the first time (a worker
 * starting or relisting may have missed a resize); none for any other change.
 */
export function resizedClaimOwners(pvc: KubeObject, old: KubeObject | undefined): string[] {
  if (old && storageRequestOf(old) === storageRequestOf(pvc)) return [];
  return ownersOf(pvc);
}

const STATUS_FIELDS = ['phase', 'capacity', 'accessModes'] as const;

/**
 * The host claim status to merge-patch from the leaf claim of `cluster`, or undefined when
 * the host already shows it or is not this cluster's to write.
 */
export function pvcStatusPatch(host: Obj, leaf: Obj, cluster: string): Record<string, unknown> | undefined {
  if (ownersOf(host)[0] !== cluster) return undefined;
  if (leaf.metadata?.annotations?.[ANNOTATION_GLOBAL] !== 'true') return undefined;
  if (!volumeNameOf(host)) return undefined;
  const hs = (host['status'] as Record<string, unknown> | undefined) ?? {};
  const ls = (leaf['status'] as Record<string, unknown> | undefined) ?? {};
  // Until the leaf claim is bound the host binder's Bound is the better answer.
  if (ls['phase'] !== 'Bound') return undefined;
  const same = STATUS_FIELDS.every((f) => JSON.stringify(hs[f] ?? null) === JSON.stringify(ls[f] ?? null));
  if (same) return undefined;
  const patch: Record<string, unknown> = {};
  for (const f of STATUS_FIELDS) patch[f] = ls[f] ?? null;
  return patch;
}

/** Whether a leaf volume copy is still used: some leaf claim names it or is the one it is pre-bound to. */
export function pvInUse(pv: Obj, leafClaims: readonly Obj[]): boolean {
  const name = pv.metadata?.name;
  const ref = specOf(pv)['claimRef'] as { namespace?: string; name?: string } | undefined;
  return leafClaims.some(
    (c) =>
      volumeNameOf(c) === name ||
      (ref !== undefined && c.metadata?.namespace === ref.namespace && c.metadata?.name === ref.name),
  );
}
