/**
 * Which virtual nodes a Cluster should have in the host, from its leafModels and the leaf's
 * nodes. Every leafModel is honoured on its own (the Go project looks only at the first to
 * pick a mode), and its labels and taints reach the virtual node (the Go project drops them).
 *
 * - no leafModels: one node `kosmos-<cluster>` for the whole leaf cluster (one2cluster);
 * - a leafModel with `nodeSelector.nodeName`: a node named after that member node (one2one);
 * - a leafModel with `nodeSelector.labelSelector`: one node `kosmos-<leafNodeName>-<index>` for the
 *   member nodes it selects (one2party);
 * - a leafModel with neither: one node `kosmos-<leafNodeName or cluster>` for all member nodes.
 */
import { LABEL_CLUSTER, LABEL_REGION, LABEL_ZONE, TAINT_NODE, type LeafMode } from '../../api/constants.js';
import type { Node, Taint } from '../../api/core.js';
import type { Cluster, LeafModel } from '../../api/kinds.js';
import type { LabelSelector } from '../../api/meta.js';
import { labelSelectorMatches } from '../../common/selectors.js';
import { VIRTUAL_NODE_PREFIX } from '../names.js';

export interface VirtualNodePlan {
  name: string;
  cluster: string;
  mode: LeafMode;
  /** Leaf nodes this virtual node stands for. */
  members: Node[];
  /** one2party: the selector leaf pods are pinned with. */
  partySelector?: LabelSelector;
  /** one2one: the member node leaf pods are pinned to. */
  memberNodeName?: string;
  labels: Record<string, string>;
  taints: Taint[];
}

const MAX_NAME = 63;
const truncate = (s: string): string => s.slice(0, MAX_NAME);
const TOPOLOGY_LABELS = [LABEL_ZONE, LABEL_REGION] as const;

/** The one value every member shares for a label, if they agree. */
function commonLabel(members: readonly Node[], key: string): string | undefined {
  const values = new Set(members.map((n) => n.metadata?.labels?.[key]));
  if (values.size !== 1) return undefined;
  return [...values][0];
}

function topologyLabels(
  cluster: Cluster,
  members: readonly Node[],
  aggregated: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of TOPOLOGY_LABELS) {
    const value = aggregated
      ? (cluster.metadata.labels?.[key] ?? commonLabel(members, key))
      : commonLabel(members, key);
    if (value) out[key] = value;
  }
  return out;
}

function taintsOf(model: LeafModel | undefined): Taint[] {
  const out: Taint[] = [{ ...TAINT_NODE }];
  for (const t of model?.taints ?? []) {
    if (out.some((o) => o.key === t.key && o.effect === t.effect)) continue;
    out.push({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) });
  }
  return out;
}

const nameOf = (n: Node): string => n.metadata?.name ?? '';

export function planVirtualNodes(cluster: Cluster, leafNodes: readonly Node[]): VirtualNodePlan[] {
  const clusterName = cluster.metadata.name ?? '';
  const models = cluster.spec.clusterTreeOptions?.leafModels ?? [];
  const base = (mode: LeafMode, members: Node[], model: LeafModel | undefined, aggregated: boolean) => ({
    cluster: clusterName,
    mode,
    members,
    labels: {
      ...topologyLabels(cluster, members, aggregated),
      ...(model?.labels ?? {}),
      [LABEL_CLUSTER]: clusterName,
    },
    taints: taintsOf(model),
  });
  if (models.length === 0) {
    return [
      {
        name: truncate(`${VIRTUAL_NODE_PREFIX}${clusterName}`),
        ...base('one2cluster', [...leafNodes], undefined, true),
      },
    ];
  }
  const plans: VirtualNodePlan[] = [];
  models.forEach((model, index) => {
    const selector = model.nodeSelector?.labelSelector;
    const nodeName = model.nodeSelector?.nodeName;
    if (nodeName) {
      const members = leafNodes.filter((n) => nameOf(n) === nodeName);
      plans.push({
        name: truncate(nodeName),
        memberNodeName: nodeName,
        ...base('one2one', members, model, false),
      });
    } else if (
      selector &&
      (Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions ?? []).length > 0)
    ) {
      const members = leafNodes.filter((n) => labelSelectorMatches(selector, n.metadata?.labels));
      plans.push({
        name: truncate(`${VIRTUAL_NODE_PREFIX}${model.leafNodeName ?? clusterName}-${index}`),
        partySelector: selector,
        ...base('one2party', members, model, true),
      });
    } else {
      plans.push({
        name: truncate(`${VIRTUAL_NODE_PREFIX}${model.leafNodeName ?? clusterName}`),
        ...base('one2cluster', [...leafNodes], model, true),
      });
    }
  });
  // Two models naming the same node would fight over it: the first wins, deterministically.
  const seen = new Set<string>();
  return plans.filter((p) => (seen.has(p.name) ? false : (seen.add(p.name), true)));
}
