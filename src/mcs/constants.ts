/**
 * Names of the Kubernetes Multi-Cluster Services API (KEP-1645, sigs.k8s.io/mcs-api) and of
 * the clusterset.local DNS schema. Kosmos's own keys come from src/api/constants.ts; the few
 * MCS values that must name Kosmos are composed from them here, so the kosmos.io literals
 * still live in one file.
 */
import { FIELD_MANAGER, GROUP } from '../api/constants.js';

export const MCS_GROUP = 'multicluster.x-k8s.io';
export const MCS_VERSION = 'v1beta1';
export const MCS_VERSION_ALPHA = 'v1alpha1';
export const MCS_API_VERSION = `${MCS_GROUP}/${MCS_VERSION}`;
/** The version label the upstream CRDs carry; ours are the same schema. */
export const MCS_RELEASE_VERSION = 'v0.5.0';

/** Well-known EndpointSlice labels of KEP-1645. */
export const LABEL_SERVICE_NAME = 'multicluster.kubernetes.io/service-name';
export const LABEL_SOURCE_CLUSTER = 'multicluster.kubernetes.io/source-cluster';
/** Core Kubernetes keys the controller reads or writes. */
export const LABEL_K8S_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY_K8S = 'endpointslice-controller.k8s.io';
export const LABEL_APP_MANAGED_BY = 'app.kubernetes.io/managed-by';

/**
 * Who owns derived slices and imports. The conformance suite requires the slices' managed-by
 * to differ from the endpointslice controller's, and KEP-1645 says only the MCS controller
 * writes ServiceImports, so one value marks both.
 */
export const MCS_CONTROLLER_ID = `mcs-controller.${GROUP}`;
export const MCS_FIELD_MANAGER = `${FIELD_MANAGER}-mcs`;

/** ServiceExport conditions and reasons (mcs-api v1beta1 serviceexport.go). */
export const CONDITION_VALID = 'Valid';
export const CONDITION_READY = 'Ready';
export const CONDITION_CONFLICT = 'Conflict';
export const REASON_VALID = 'Valid';
export const REASON_NO_SERVICE = 'NoService';
export const REASON_INVALID_SERVICE_TYPE = 'InvalidServiceType';
export const REASON_EXPORTED = 'Exported';
export const REASON_PENDING = 'Pending';
export const REASON_NO_CONFLICTS = 'NoConflicts';
export const CONFLICT_REASONS = [
  'PortConflict',
  'TypeConflict',
  'SessionAffinityConflict',
  'SessionAffinityConfigConflict',
  'InternalTrafficPolicyConflict',
  'TrafficDistributionConflict',
  'IPFamilyConflict',
  'LabelsConflict',
  'AnnotationsConflict',
] as const;
export type ConflictReason = (typeof CONFLICT_REASONS)[number];
/**
 * ServiceImport status.endpointSliceObjects (KEP-1645, mcs-api v1beta1): whether the
 * implementation puts EndpointSlices for the import in the cluster. Kosmos always does.
 */
export const ENDPOINT_SLICE_OBJECTS_PRESENT = 'Present';
/** ServiceImport Ready condition reasons. */
export const REASON_READY = 'Ready';
export const REASON_IP_FAMILY_NOT_SUPPORTED = 'IPFamilyNotSupported';

/** The DNS zone of KEP-1645 ("currently must be clusterset.local") and its schema version. */
export const CLUSTERSET_ZONE = 'clusterset.local';
export const DNS_SCHEMA_VERSION = '1.0.0';
/** CoreDNS's, Lighthouse's and the multicluster plugin's default TTL. */
export const DEFAULT_DNS_TTL = 5;

/** A clusterset CIDR outside every sandbox service and pod CIDR, and outside 10/8 in general. */
export const DEFAULT_CLUSTERSET_CIDR = '172.31.0.0/16';

/** Namespaces Kosmos never auto-exports from (the KEP asks admins to guard these). */
export const DEFAULT_RESERVED_NAMESPACES = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'default',
] as const;
/** Values Kosmos accepts as "on": the Go project wrote "ture" into some annotations. */
export const TRUE_VALUES = ['true', 'ture'] as const;
