/**
 * The host Node object of a virtual node: identity (labels, annotations, taints) and status
 * (capacity, conditions, the kubelet endpoint the host apiserver dials for logs and exec).
 */
import {
  ANNOTATION_KOSMOS_TAINTS,
  ANNOTATION_LEAF_NODE_MODE,
  ANNOTATION_OWNED_BY_CLUSTER,
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
  /** one2one: the member node, whose labels and annotations the virtual node shows. */
  member?: Node;
}

/** The taints the node should have: ClusterTree's now, everyone else's as they are. */
export function virtualNodeTaints(plan: VirtualNodePlan, input: VirtualNodeIdentityInput): Taint[] {
  const current = input.current;
  return mergeTaints(
    current?.spec?.taints,
    recordedKosmosTaints(current?.metadata?.annotations?.[ANNOTATION_KOSMOS_TAINTS]),
    kosmosTaints(plan),
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
        [ANNOTATION_KOSMOS_TAINTS]: kosmosTaintsAnnotation(kosmosTaints(plan)),
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

const UNREACHABLE = 'LeafClusterUnreachable';
const UNREACHABLE_MESSAGE = 'the leaf cluster apiserver does not answer';

export function virtualNodeStatus(input: VirtualNodeStatusInput): NonNullable<Node['status']> {
  const ok = input.leafReachable;
  // An unreachable leaf is reported NotReady at once rather than only when the lease lapses;
  // the pressure conditions become Unknown, as the node lifecycle controller would set them.
  const pressure = (type: string, reason: string, message: string) =>
    ok
      ? condition(type, 'False', reason, message, input)
      : condition(type, 'Unknown', UNREACHABLE, UNREACHABLE_MESSAGE, input);
  // one2one: the member's conditions, as its own cluster reports them.
  const conditions: NodeCondition[] =
    ok && input.member
      ? mirroredConditions(input.member, input.now)
      : [
          ok
            ? condition('Ready', 'True', 'KubeletReady', 'the leaf cluster answers', input)
            : condition('Ready', 'False', UNREACHABLE, UNREACHABLE_MESSAGE, input),
          pressure('MemoryPressure', 'KubeletHasSufficientMemory', 'leaf cluster has sufficient memory'),
          pressure('DiskPressure', 'KubeletHasNoDiskPressure', 'leaf cluster has no disk pressure'),
          pressure('PIDPressure', 'KubeletHasSufficientPID', 'leaf cluster has sufficient PID'),
          ok
            ? condition(
                'NetworkUnavailable',
                'False',
                'RouteCreated',
                'the leaf cluster routes its pods',
                input,
              )
            : condition('NetworkUnavailable', 'Unknown', UNREACHABLE, UNREACHABLE_MESSAGE, input),
        ];
  return {
    capacity: { ...input.allocatable },
    allocatable: { ...input.allocatable },
    conditions,
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
