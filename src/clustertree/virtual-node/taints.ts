/**
 * A virtual node's taints, as a kubelet keeps them: ClusterTree's own (kosmos.io/node, the
 * leafModel's, kosmos.io/leaf-unreachable during an outage) plus whatever others put there
 * (`kubectl taint`, the node lifecycle controller's not-ready/unschedulable taints), which
 * are never touched. The node remembers which taints were ClusterTree's in the annotation
 * `kosmos.io/kosmos-taints`, so a taint dropped from a leafModel goes away and one an admin
 * added stays. Node `spec.taints` is an atomic list for server-side apply, so the merged list
 * is written whole, under the resourceVersion it was computed from.
 */
import { TAINT_LEAF_UNREACHABLE } from '../../api/constants.js';
import type { Taint } from '../../api/core.js';
import type { VirtualNodePlan } from './plan.js';

/** Two taints with the same key and effect are the same taint to the scheduler. */
export const taintId = (t: Pick<Taint, 'key' | 'effect'>): string => `${t.key}:${t.effect}`;

/** ClusterTree's taints for a virtual node now. */
export function kosmosTaints(plan: VirtualNodePlan, leafReachable: boolean): Taint[] {
  const out = plan.taints.map((t) => ({ ...t }));
  if (!leafReachable && !out.some((t) => taintId(t) === taintId(TAINT_LEAF_UNREACHABLE)))
    out.push({ ...TAINT_LEAF_UNREACHABLE });
  return out;
}

export const kosmosTaintsAnnotation = (taints: readonly Taint[]): string => taints.map(taintId).join(',');

/** The ids recorded on the node; undefined when it has no record (a node from before it existed). */
export function recordedKosmosTaints(annotation: string | undefined): Set<string> | undefined {
  if (annotation === undefined) return undefined;
  return new Set(annotation.split(',').filter(Boolean));
}

/**
 * ClusterTree's taints first, then everyone else's in the order they have, untouched
 * (timeAdded included). A taint counts as ClusterTree's when it is wanted now or was recorded
 * as set by ClusterTree; without a record only the wanted ones are, so nothing of an admin's
 * is lost on the way to having one.
 */
export function mergeTaints(
  current: readonly Taint[] | undefined,
  recorded: ReadonlySet<string> | undefined,
  desired: readonly Taint[],
): Taint[] {
  const ours = new Set([...(recorded ?? []), ...desired.map(taintId)]);
  return [...desired.map((t) => ({ ...t })), ...(current ?? []).filter((t) => !ours.has(taintId(t)))];
}
