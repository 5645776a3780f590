/** Turns a host Node into a NodeView: host or leaf, which leaf cluster, which member nodes. */
import {
  ANNOTATION_LEAF_NODE_MODE,
  ANNOTATION_OWNED_BY_CLUSTER,
  LABEL_CLUSTER,
  LABEL_NODE,
} from '../../api/constants.js';
import type { Node, Taint } from '../../api/core.js';
import type { Cluster } from '../../api/kinds.js';
import type { LabelSelector } from '../../api/meta.js';
import type { MemberScope, NodeView } from './types.js';

/** A leaf virtual node carries the kosmos.io/node label key (any value, as LeafNodeDistribution reads it). */
export function isLeafNode(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels !== undefined && Object.prototype.hasOwnProperty.call(labels, LABEL_NODE);
}

/**
 * Which member nodes a virtual node stands for. The Cluster's leafModels decide when known:
 * a model with nodeName is one2one, a model with a labelSelector whose leafNodeName prefixes
 * this node's name is one2party; otherwise (and with the one2cluster annotation) the whole
 * cluster. Without the Cluster object, a virtual node that is not marked one2cluster and has
 * no leaf models is treated as the whole cluster too, which is Kosmos' default mode.
 */
export function memberScopeOf(node: Node, cluster: Cluster | undefined): MemberScope {
  const name = node.metadata?.name ?? '';
  if (node.metadata?.annotations?.[ANNOTATION_LEAF_NODE_MODE] === 'one2cluster') return { kind: 'cluster' };
  for (const model of cluster?.spec.clusterTreeOptions?.leafModels ?? []) {
    const sel = model.nodeSelector;
    if (sel?.nodeName && sel.nodeName === name) return { kind: 'node', name };
    if (sel?.labelSelector && model.leafNodeName && name.startsWith(`kosmos-${model.leafNodeName}-`)) {
      return { kind: 'selector', selector: sel.labelSelector as LabelSelector };
    }
  }
  return { kind: 'cluster' };
}

const BLOCKING = new Set(['NoSchedule', 'NoExecute']);

export function toNodeView(
  node: Node,
  clusterOf: (name: string) => Cluster | undefined = () => undefined,
): NodeView {
  const labels = node.metadata?.labels ?? {};
  const taints: Taint[] = (node.spec?.taints ?? []).filter((t) => BLOCKING.has(t.effect));
  const view: NodeView = { name: node.metadata?.name ?? '', labels, taints, leaf: isLeafNode(labels) };
  if (view.leaf) {
    const cluster = node.metadata?.annotations?.[ANNOTATION_OWNED_BY_CLUSTER] ?? labels[LABEL_CLUSTER];
    if (cluster) {
      view.cluster = cluster;
      view.scope = memberScopeOf(node, clusterOf(cluster));
    }
  }
  return view;
}
