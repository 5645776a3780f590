/**
 * Names ClusterTree uses that are not part of the kosmos.io API (those live in
 * src/api/constants.ts): object names, namespaces and Redis keys of this implementation.
 */
import { GROUP } from '../api/constants.js';

/** The ConfigMap every namespace gets with the cluster's CA; a leaf has its own. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** The leaf copy of the host's CA ConfigMap, so leaf pods can verify the host apiserver. */
export const HOST_CA_CONFIGMAP_IN_LEAF = 'master-root-ca.crt';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** Pods of this namespace stay in the host (the cluster's own components), as in Kosmos. */
export const KUBE_SYSTEM_NAMESPACE = 'kube-system';
/** Where a pod's service-account credentials are mounted (kubelet and client libraries agree on it). */
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Prefix of the projected volume the host's ServiceAccount admission injects. */
export const HOST_TOKEN_VOLUME_PREFIX = 'kube-api-access-';
export const LEGACY_TOKEN_VOLUME_PREFIX = 'default-token';
/** Prefix of aggregated virtual node names (`kosmos-<cluster>`). */
export const VIRTUAL_NODE_PREFIX = 'kosmos-';
/** BullMQ queue of every ClusterTree job. */
export const QUEUE_NAME = 'kosmos-clustertree';
/** Heartbeats get a queue of their own so a burst of pod jobs never delays a lease renewal. */
export const HEARTBEAT_QUEUE_NAME = 'kosmos-clustertree-heartbeat';
/** Leases last 40 s and are renewed every 10 s, as kubelets do. */
export const LEASE_DURATION_SECONDS = 40;
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** Annotations the host's token controller reads on a service-account token Secret. */
export const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';
export const SA_TOKEN_SECRET_TYPE = 'kubernetes.io/service-account-token';
/** Client-side annotation that must not be copied: it describes the host object. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** managed-by value of the leaf copies of host Services and their EndpointSlices. */
export const SERVICE_COPY_MANAGER = `clustertree.${GROUP}`;
