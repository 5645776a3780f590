/**
 * Leaf pod status → host pod status. The host shows what runs in the leaf: phase,
 * conditions, pod IPs (leaf pod IPs, routable through ClusterLink), the leaf node's IP as
 * host IP, and container statuses. QoS class stays the host's own (it is derived from the
 * spec, which is the same).
 */
import type { Pod, PodStatus } from '../../api/core.js';

const COPIED = [
  'phase',
  'conditions',
  'message',
  'reason',
  'podIP',
  'podIPs',
  'hostIP',
  'hostIPs',
  'startTime',
  'containerStatuses',
  'initContainerStatuses',
  'ephemeralContainerStatuses',
] as const;

/** The host status to write: every copied field, `null` for those the leaf lacks (merge-patch deletes them). */
export function hostStatusPatch(leaf: Pod): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const status: PodStatus = leaf.status ?? {};
  for (const k of COPIED) out[k] = status[k] === undefined ? null : status[k];
  return out;
}

const canon = (v: unknown): string => JSON.stringify(v ?? null);

export function statusInSync(host: Pod, leaf: Pod): boolean {
  const h: PodStatus = host.status ?? {};
  const l: PodStatus = leaf.status ?? {};
  return COPIED.every((k) => canon(h[k]) === canon(l[k]));
}
