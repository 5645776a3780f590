/**
 * Every label, annotation, taint, finalizer and wire constant of the kosmos.io API.
 * Values are those of the Go project (kosmos-io/kosmos) so existing YAML and mixed
 * deployments keep working; no other file spells these strings.
 */

export const GROUP = 'kosmos.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'kosmos-io';
export const DEFAULT_NAMESPACE = 'kosmos-system';
export const DEFAULT_SCHEDULER_NAME = 'kosmos-scheduler';
export const FIELD_MANAGER = 'kosmos';

/** Labels. */
export const LABEL_NODE = 'kosmos.io/node';
export const LABEL_CLUSTER = 'kosmos.io/cluster';
export const LABEL_EXCLUDE = 'kosmos.io/exclude';
export const LABEL_POD = 'kosmos-io/pod';
export const LABEL_WORKLOAD_POLICY = 'workload-policy/kosmos.io';
export const LABEL_JOIN = 'kosmos.io/join';
export const LABEL_MANAGED = 'kosmos.io/managed';
export const LABEL_ROLE_AGENT = 'kubernetes.io/role';
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_REGION = 'topology.kubernetes.io/region';
export const LABEL_OS = 'kubernetes.io/os';
export const LABEL_ARCH = 'kubernetes.io/arch';
/** On pods of Kosmos' global DaemonSets (mirrored from a leaf): ClusterTree never runs them in a leaf. */
export const LABEL_DAEMONSET_MANAGED = 'daemonset.kosmos.io/managed';

/** Annotations. */
export const ANNOTATION_OWNED_BY_CLUSTER = 'kosmos-io/owned-by-cluster';
export const ANNOTATION_CLUSTER_OWNERS = 'kosmos-io/cluster-owners';
export const ANNOTATION_LEAF_NODE_MODE = 'leafNodeMode';
export const ANNOTATION_CONVERT_POLICY = 'kosmos-io/convert-policy';
export const ANNOTATION_CLUSTER_ROLE = 'kosmos.io/cluster-role';
export const ANNOTATION_AUTO_CREATE_MCS = 'kosmos.io/auto-create-mcs';
export const ANNOTATION_GLOBAL = 'kosmos.io/global';
export const ANNOTATION_NODECONFIG_PREV = 'prev';
/**
 * On a Cluster: `kosmosctl join --service-cidr`, comma-separated. ClusterLink uses it only when
 * the member shows no service CIDR itself (no ServiceCIDR objects, no kube-apiserver pod);
 * spec.clusterLinkOptions.serviceCIDRs overrides everything.
 */
export const ANNOTATION_SERVICE_CIDRS = 'kosmos.io/service-cidrs';
/** On a DaemonSet's pod (its template): run it in the leaf when bound to a virtual node. */
export const ANNOTATION_DAEMONSET_ALLOW = 'kosmos-io/daemonset-allow';

/** Taint every virtual node carries. */
export const TAINT_NODE = { key: LABEL_NODE, value: 'true', effect: 'NoSchedule' } as const;
/**
 * On a virtual node while its leaf apiserver does not answer: no new pods, and nothing
 * evicted (the node stays Ready; see CONDITION_LEAF_UNREACHABLE).
 */
export const TAINT_LEAF_UNREACHABLE = { key: 'kosmos.io/leaf-unreachable', effect: 'NoSchedule' } as const;
/** Virtual node condition: True while the leaf cluster's apiserver does not answer. */
export const CONDITION_LEAF_UNREACHABLE = 'LeafClusterUnreachable';
/**
 * On a virtual node: the taints (`key:effect`, comma separated) ClusterTree set, so it
 * replaces its own and keeps everyone else's (`kubectl taint`, the node lifecycle controller).
 */
export const ANNOTATION_KOSMOS_TAINTS = 'kosmos.io/kosmos-taints';

/** Finalizers. */
export const FINALIZER_CLUSTER_MANAGER = 'kosmos.io/cluster-manager';
export const FINALIZER_CLUSTER_START = 'kosmos.io/cluster-start-finalizer';

/** Leaf-node modes (how a leaf cluster appears as virtual nodes in the host). */
export const LEAF_MODES = ['one2cluster', 'one2party', 'one2one'] as const;
export type LeafMode = (typeof LEAF_MODES)[number];

/** DistributionPolicy node types. */
export const NODE_TYPES = ['host', 'leaf', 'mix', 'adv'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** ClusterLink network types and IP families. */
export const NETWORK_TYPES = ['p2p', 'gateway'] as const;
export const IP_FAMILIES = ['all', 'ipv4', 'ipv6'] as const;
export const CNI_NAMES = ['calico', 'flannel', 'cilium'] as const;
export const ROLE_GATEWAY = 'gateway';

/** ClusterLink wire constants: equal to the Go project's so mixed deployments interoperate. */
export const VXLAN = {
  bridge: { name: 'vx-bridge', vni: 54, port: 4876 },
  local: { name: 'vx-local', vni: 55, port: 4877 },
  bridge6: { name: 'vx-bridge-6', vni: 64, port: 4866 },
  local6: { name: 'vx-local-6', vni: 65, port: 4867 },
} as const;
export const ROUTE_TABLE = 200;
export const RULE_PRIORITY = 200;
export const ZERO_MAC = '00:00:00:00:00:00';
export const CHAIN_PREROUTING = 'CLUSTERLINK-PREROUTING';
export const CHAIN_POSTROUTING = 'CLUSTERLINK-POSTROUTING';
/** filter chain of the agent's FORWARD accepts for the tunnel devices (the Go agent inserted them into FORWARD itself). */
export const CHAIN_FORWARD = 'CLUSTERLINK-FORWARD';
export const AUTO_SELECT_INTERFACE = '*';
export const DEFAULT_LOCAL_CIDRS = { ip: '210.0.0.0/8', ip6: '9480::/16' } as const;
export const DEFAULT_BRIDGE_CIDRS = { ip: '220.0.0.0/8', ip6: '9470::/16' } as const;

/**
 * Kubernetes' own keys that Kosmos reads. Labels that Kubernetes' controllers put on the
 * pods they create decide how a generated topology spread constraint selects "the pods of
 * the same workload".
 */
export const DEFAULT_KUBE_SCHEDULER = 'default-scheduler';
/** Namespace label the apiserver sets on every namespace; the webhook configurations select on it. */
export const LABEL_NAMESPACE_NAME = 'kubernetes.io/metadata.name';
/** Differs between revisions of one Deployment: matchLabelKeys, so a rollout's new ReplicaSet spreads on its own. */
export const LABEL_POD_TEMPLATE_HASH = 'pod-template-hash';
/**
 * Never copied into a generated labelSelector: per-revision labels (they would pin the
 * selector to one revision) and per-pod labels (they would select only the pod itself).
 */
export const NON_WORKLOAD_LABELS: readonly string[] = [
  LABEL_POD_TEMPLATE_HASH,
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/job-completion-index',
];
/** The ReplicaSet controller deletes pods with the lowest cost first on scale-down. */
export const ANNOTATION_POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
/**
 * On a leaf pod: JSON `{"labels": [...], "annotations": [...]}`, the host keys ClusterTree
 * last wrote, so a key removed in the host is removed in the leaf while keys the leaf added
 * itself are kept.
 */
export const ANNOTATION_HOST_METADATA_KEYS = 'kosmos.io/host-metadata-keys';
