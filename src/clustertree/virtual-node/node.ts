/**
 * The host Node object of a virtual node: identity (labels, annotations, taints) and status
 * (capacity, conditions, the kubelet endpoint the host apiserver dials for logs and exec).
 *
 * A leaf that does not answer keeps its virtual nodes Ready: the host's node lifecycle
 * controller would otherwise taint them `node.kubernetes.io/not-ready:NoExecute` and evict
 * every pod after its tolerationSeconds (300 s by default), and the leaf's healthy pods would
 * be deleted to match when it returns. The outage shows as the condition
 * LeafClusterUnreachable=True instead, and the taint kosmos.io/leaf-unreachable:NoSchedule
 * keeps new pods away until the leaf answers again.
 */
import {
  ANNOTATION_KOSMOS_TAINTS,
  ANNOTATION_LEAF_NODE_MODE,
  ANNOTATION_OWNED_BY_CLUSTER,
  CONDITION_LEAF_UNREACHABLE,
  LABEL_ARCH,
  LABEL_HOSTNAME,
  LABEL_NODE,
  LABEL_OS,
  LABEL_ROLE_AGENT,
} from '../../api/constants.js';
import type { Node, NodeCondition, Taint } from '../../api/core.js';
import { mirroredAnnotations, mirroredConditions, mirroredLabels } from './member-mirror.js';
import type { VirtualNodePlan } from './plan.js';
import { kosmosTaints, kosmosTaintsAnnotation, mergeTaints, recordedKosmosTaints } from './taints.js';

export interface VirtualNodeStatusInput {
  /** Quantity strings. */
  allocatable: Record<string, string>;
  /** False when the leaf apiserver did not answer. */
  leafReachable: boolean;
  now: string;
  /** Conditions the node has now, so transition times only move on a transition. */
  previous?: readonly NodeCondition[];
  kubeletVersion: string;
  /** Address and port of the kubelet-API server that serves this node's logs and exec. */
  address: string;
  port: number;
  /** one2one: the member node, whose conditions the virtual node shows (only while the leaf answers). */
  member?: Node;
}

export interface VirtualNodeIdentityInput {
  /** The node as it is now, if it exists: everyone else's taints are kept. */
  current?: Node;
  leafReachable: boolean;
  /** one2one: the member node, whose labels and annotations the virtual node shows. */
  member?: Node;
}

/** The taints the node should have: ClusterTree's now, everyone else's as they are. */
export function virtualNodeTaints(plan: VirtualNodePlan, input: VirtualNodeIdentityInput): Taint[] {
  const current = input.current;
  return mergeTaints(
    current?.spec?.taints,
    recordedKosmosTaints(current?.metadata?.annotations?.[ANNOTATION_KOSMOS_TAINTS]),
    kosmosTaints(plan, input.leafReachable),
  );
}

export function virtualNodeIdentity(plan: VirtualNodePlan, input: VirtualNodeIdentityInput): Node {
  const member = plan.mode === 'one2one' ? input.member : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: plan.name,
      labels: {
        [LABEL_ARCH]: 'amd64',
        [LABEL_OS]: 'linux',
        ...mirroredLabels(member),
        [LABEL_NODE]: 'true',
        [LABEL_ROLE_AGENT]: 'agent',
        [LABEL_HOSTNAME]: plan.name,
        ...plan.labels,
      },
      annotations: {
        ...mirroredAnnotations(member),
        [ANNOTATION_OWNED_BY_CLUSTER]: plan.cluster,
        [ANNOTATION_LEAF_NODE_MODE]: plan.mode,
        [ANNOTATION_KOSMOS_TAINTS]: kosmosTaintsAnnotation(kosmosTaints(plan, input.leafReachable)),
      },
    },
    spec: { taints: virtualNodeTaints(plan, input) },
  };
}

function condition(
  type: string,
  status: NodeCondition['status'],
  reason: string,
  message: string,
  input: VirtualNodeStatusInput,
): NodeCondition {
  const prev = input.previous?.find((c) => c.type === type);
  return {
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: input.now,
    lastTransitionTime:
      prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : input.now,
  };
}

const UNREACHABLE = 'LeafApiserverUnreachable';
const UNREACHABLE_MESSAGE =
  'the leaf cluster apiserver does not answer: its pods are kept, no new pods are scheduled here';
/** What Ready said in versions that turned the node NotReady during an outage. */
export const LEGACY_UNREACHABLE_REASON = 'LeafClusterUnreachable';

function defaultConditions(input: VirtualNodeStatusInput): NodeCondition[] {
  return [
    condition('Ready', 'True', 'KubeletReady', 'the leaf cluster answers', input),
    condition(
      'MemoryPressure',
      'False',
      'KubeletHasSufficientMemory',
      'leaf cluster has sufficient memory',
      input,
    ),
    condition(
      'DiskPressure',
      'False',
      'KubeletHasNoDiskPressure',
      'leaf cluster has no disk pressure',
      input,
    ),
    condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'leaf cluster has sufficient PID', input),
    condition('NetworkUnavailable', 'False', 'RouteCreated', 'the leaf cluster routes its pods', input),
  ];
}

/**
 * While the leaf answers: the five conditions of a healthy node, or (one2one) the member's.
 * While it does not: every condition as it last was, heartbeat renewed, so nothing the host
 * acts on changes (see the file comment); only LeafClusterUnreachable turns True.
 */
function conditions(input: VirtualNodeStatusInput): NodeCondition[] {
  const own = (status: NodeCondition['status']) =>
    status === 'True'
      ? condition(CONDITION_LEAF_UNREACHABLE, 'True', UNREACHABLE, UNREACHABLE_MESSAGE, input)
      : condition(
          CONDITION_LEAF_UNREACHABLE,
          'False',
          'LeafApiserverAnswers',
          'the leaf cluster apiserver answers',
          input,
        );
  if (input.leafReachable) {
    const base = input.member ? mirroredConditions(input.member, input.now) : defaultConditions(input);
    return [...base.filter((c) => c.type !== CONDITION_LEAF_UNREACHABLE), own('False')];
  }
  const kept = (input.previous ?? []).filter(
    (c) =>
      c.type !== CONDITION_LEAF_UNREACHABLE &&
      !(c.type === 'Ready' && c.reason === LEGACY_UNREACHABLE_REASON),
  );
  const defaults = defaultConditions(input).filter((d) => !kept.some((c) => c.type === d.type));
  return [...kept.map((c) => ({ ...c, lastHeartbeatTime: input.now })), ...defaults, own('True')];
}

export function virtualNodeStatus(input: VirtualNodeStatusInput): NonNullable<Node['status']> {
  return {
    capacity: { ...input.allocatable },
    allocatable: { ...input.allocatable },
    conditions: conditions(input),
    addresses: [
      { type: 'Hostname', address: input.address },
      { type: 'InternalIP', address: input.address },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: input.port } },
    nodeInfo: {
      operatingSystem: 'linux',
      architecture: 'amd64',
      kubeletVersion: input.kubeletVersion,
      kubeProxyVersion: '',
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: '',
      osImage: 'kosmos virtual node',
      containerRuntimeVersion: 'kosmos://leaf',
    },
  };
}
