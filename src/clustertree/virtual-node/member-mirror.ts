/**
 * What a one2one virtual node takes from its member node, so users can target the member's
 * hardware (GPU, instance type, zone labels) and see its health from the host:
 *
 * - labels, except Kubernetes' own `node-role.kubernetes.io/*` and `kubernetes.io/hostname`
 *   (the virtual node has a name and role of its own);
 * - annotations, except those a node's own agents (kubelet, CSI and CNI plugins, kwok) write
 *   for the controllers of *its* cluster: on the host they would make the host's controllers
 *   act on a node that has no such agent (attach volumes to it, route to it, simulate it);
 * - conditions, with ClusterTree's heartbeat time (the member's kubelet reports rarely once
 *   it has a Lease; the host's node lifecycle controller watches the virtual node's).
 *
 * ClusterTree's own keys win over the member's (node-sync applies them last), as in Kosmos.
 */
import { LABEL_HOSTNAME } from '../../api/constants.js';
import type { Node, NodeCondition } from '../../api/core.js';
import { LAST_APPLIED_ANNOTATION } from '../names.js';

const NODE_ROLE_PREFIX = 'node-role.kubernetes.io/';

/** Prefixes of node annotations that describe the member's own agents to its own cluster. */
const AGENT_ANNOTATION_PREFIXES: readonly string[] = [
  'node.alpha.kubernetes.io/', // the ttl controller's
  'volumes.kubernetes.io/', // controller-managed-attach-detach: the attach/detach controller would act
  'csi.volume.kubernetes.io/', // CSI node ids
  'kubeadm.alpha.kubernetes.io/',
  'flannel.alpha.coreos.com/', // flannel routes to the node's public IP
  'projectcalico.org/',
  'network.cilium.io/',
  'io.cilium.network.',
  'kwok.x-k8s.io/', // kwok would simulate the node
];

export function mirroredLabels(member: Node | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(member?.metadata?.labels ?? {})) {
    if (k === LABEL_HOSTNAME || k.startsWith(NODE_ROLE_PREFIX)) continue;
    out[k] = v;
  }
  return out;
}

export function mirroredAnnotations(member: Node | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(member?.metadata?.annotations ?? {})) {
    if (k === LAST_APPLIED_ANNOTATION || AGENT_ANNOTATION_PREFIXES.some((p) => k.startsWith(p))) continue;
    out[k] = v;
  }
  return out;
}

export function mirroredConditions(member: Node, now: string): NodeCondition[] {
  return (member.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message } : {}),
    lastHeartbeatTime: now,
    lastTransitionTime: c.lastTransitionTime ?? now,
  }));
}
