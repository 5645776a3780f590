/**
 * Rule: volumes. A claim owned by a leaf cluster (kosmos-io/cluster-owners on the PVC or its
 * PV) can only be used on that cluster's leaf nodes; a claim bound to a host PV pins the pod
 * to host nodes that satisfy the PV's node affinity. Unbound claims without an owner are
 * left to the in-tree VolumeBinding plugin (host) and the leaf's provisioner.
 */
import { ANNOTATION_CLUSTER_OWNERS } from '../../../api/constants.js';
import { nodeSelectorMatches } from '../../../common/selectors.js';
import { PASS, type NodeView, type PlacementWorld, type PodView, type RuleVerdict } from '../types.js';

export const VOLUME_AFFINITY_CONFLICT = 'node(s) had volume node affinity conflict';
export const VOLUME_MISSING_PV = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';

export function checkVolumes(pod: PodView, node: NodeView, world: PlacementWorld): RuleVerdict {
  for (const claim of pod.claimNames) {
    const pvc = world.pvc(pod.namespace, claim);
    if (!pvc) return { ok: false, unresolvable: true, reason: `persistentvolumeclaim "${claim}" not found` };
    if (pvc.metadata?.deletionTimestamp) {
      return { ok: false, unresolvable: true, reason: `persistentvolumeclaim "${claim}" is being deleted` };
    }
    const volumeName = pvc.spec?.volumeName;
    const pv = volumeName ? world.pv(volumeName) : undefined;
    if (volumeName && !pv) return { ok: false, unresolvable: true, reason: VOLUME_MISSING_PV };
    const owner =
      pvc.metadata?.annotations?.[ANNOTATION_CLUSTER_OWNERS] ??
      pv?.metadata?.annotations?.[ANNOTATION_CLUSTER_OWNERS];
    if (owner !== undefined) {
      if (!node.leaf || node.cluster !== owner) {
        return {
          ok: false,
          unresolvable: true,
          reason: `${VOLUME_AFFINITY_CONFLICT}: claim "${claim}" belongs to leaf cluster ${owner}`,
        };
      }
      continue;
    }
    if (!pv) continue;
    if (node.leaf) {
      return {
        ok: false,
        unresolvable: true,
        reason: `${VOLUME_AFFINITY_CONFLICT}: claim "${claim}" is bound to host volume ${volumeName}`,
      };
    }
    const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
    if (terms && !nodeSelectorMatches(terms, node.labels, node.name)) {
      return { ok: false, unresolvable: true, reason: VOLUME_AFFINITY_CONFLICT };
    }
  }
  return PASS;
}
