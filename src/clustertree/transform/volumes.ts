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
 *   volume: an unbound host claim belongs to the host's binder, which resets it to Pending.
 */
import { ANNOTATION_CLUSTER_OWNERS, ANNOTATION_GLOBAL } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
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
