/**
 * Host pod changes → an update of the running leaf pod. Kubernetes lets a running pod change
 * only a few things; these follow the host pod, everything else the leaf set (node name,
 * tolerations its admission added, volumes, status) is kept:
 *
 * - labels and annotations: the host's win; a key the host dropped since the last write
 *   (remembered in `kosmos.io/host-metadata-keys`) is dropped, keys the leaf added itself
 *   stay. Kosmos' own annotations (`kosmos.io/…`, `kosmos-io/…`) are bookkeeping of each
 *   side and are never carried over by an update;
 * - container and init container images, matched by container name;
 * - activeDeadlineSeconds, when the leaf has none or the host's is shorter (the only change
 *   the apiserver accepts);
 * - tolerations the host added (the apiserver refuses removals).
 *
 * `desired` is what the leaf pod would be if created now (transform/pod.ts), so the update
 * shows exactly what a fresh leaf pod would.
 */
import { ANNOTATION_HOST_METADATA_KEYS } from '../../api/constants.js';
import type { Container, Pod, Toleration } from '../../api/core.js';

type Strings = Record<string, string>;

/** Annotations that are each side's own bookkeeping, never copied by an update. */
export const isKosmosAnnotation = (key: string): boolean =>
  key.startsWith('kosmos.io/') || key.startsWith('kosmos-io/');

interface HostKeys {
  labels: string[];
  annotations: string[];
}

/** The host keys a leaf pod carries, as the annotation value. */
export function hostKeysAnnotation(labels: Strings | undefined, annotations: Strings | undefined): string {
  const keys: HostKeys = {
    labels: Object.keys(labels ?? {}).sort(),
    annotations: Object.keys(annotations ?? {})
      .filter((k) => !isKosmosAnnotation(k))
      .sort(),
  };
  return JSON.stringify(keys);
}

function previousHostKeys(leaf: Pod): HostKeys {
  const raw = leaf.metadata?.annotations?.[ANNOTATION_HOST_METADATA_KEYS];
  if (raw) {
    try {
      const parsed = JSON.parse(raw) as Partial<HostKeys>;
      return { labels: parsed.labels ?? [], annotations: parsed.annotations ?? [] };
    } catch {
      // unreadable: treat as unknown below
    }
  }
  // Unknown (a pod created before the annotation existed): nothing is known to be the host's,
  // so nothing is removed; later updates know.
  return { labels: [], annotations: [] };
}

function mergeKeys(
  current: Strings,
  wanted: Strings,
  previous: readonly string[],
  skip: (k: string) => boolean,
): Strings {
  const out: Strings = {};
  for (const [k, v] of Object.entries(current)) {
    if (!skip(k) && previous.includes(k) && !(k in wanted)) continue; // the host dropped it
    out[k] = v;
  }
  for (const [k, v] of Object.entries(wanted)) if (!skip(k)) out[k] = v;
  return out;
}

function withImages(
  current: Container[] | undefined,
  wanted: Container[] | undefined,
): Container[] | undefined {
  if (!current) return current;
  const images = new Map((wanted ?? []).map((c) => [c.name, c.image]));
  return current.map((c) => {
    const image = images.get(c.name);
    return image && image !== c.image ? { ...c, image } : c;
  });
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function withTolerations(
  current: Toleration[] | undefined,
  wanted: Toleration[] | undefined,
): Toleration[] | undefined {
  const added = (wanted ?? []).filter((w) => !(current ?? []).some((c) => same(c, w)));
  return added.length > 0 ? [...(current ?? []), ...added] : current;
}

/**
 * The leaf pod to PUT (the current one with what changed), or undefined when it already
 * shows the host pod. Pure and idempotent: applying its result and calling it again gives
 * undefined.
 */
export function leafPodUpdate(desired: Pod, leaf: Pod): Pod | undefined {
  const next = structuredClone(leaf);
  const meta = (next.metadata ??= {});
  const previous = previousHostKeys(leaf);
  const wantedLabels = desired.metadata?.labels ?? {};
  const wantedAnnotations = desired.metadata?.annotations ?? {};
  const labels = mergeKeys(meta.labels ?? {}, wantedLabels, previous.labels, () => false);
  const annotations = mergeKeys(
    meta.annotations ?? {},
    wantedAnnotations,
    previous.annotations,
    isKosmosAnnotation,
  );
  annotations[ANNOTATION_HOST_METADATA_KEYS] = hostKeysAnnotation(wantedLabels, wantedAnnotations);
  meta.labels = labels;
  meta.annotations = annotations;

  const spec = next.spec;
  spec.containers = withImages(spec.containers, desired.spec.containers) ?? [];
  const init = withImages(spec.initContainers, desired.spec.initContainers);
  if (init) spec.initContainers = init;
  const deadline = desired.spec['activeDeadlineSeconds'];
  const current = spec['activeDeadlineSeconds'];
  if (typeof deadline === 'number' && (typeof current !== 'number' || deadline < current))
    spec['activeDeadlineSeconds'] = deadline;
  const tolerations = withTolerations(spec.tolerations, desired.spec.tolerations);
  if (tolerations) spec.tolerations = tolerations;

  return same(next, leaf) ? undefined : next;
}

const images = (cs: Container[] | undefined) => (cs ?? []).map((c) => `${c.name}=${c.image ?? ''}`);

/** Whether a host pod change may need an update of its leaf pod (to enqueue a pod job only then). */
export function hostPodUpdated(old: Pod, pod: Pod): boolean {
  return (
    !same(old.metadata?.labels, pod.metadata?.labels) ||
    !same(old.metadata?.annotations, pod.metadata?.annotations) ||
    !same(images(old.spec.containers), images(pod.spec.containers)) ||
    !same(images(old.spec.initContainers), images(pod.spec.initContainers)) ||
    !same(old.spec['activeDeadlineSeconds'], pod.spec['activeDeadlineSeconds']) ||
    !same(old.spec.tolerations, pod.spec.tolerations)
  );
}
