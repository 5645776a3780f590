/**
 * Plain-JSON shapes of the objects the MCS controller and DNS server read and write,
 * exactly as the apiserver sends them (timestamps are strings). Only fields MCS uses.
 */
import type { Condition, KubeObject, ObjectMeta } from '../api/meta.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 'IPv4' | 'IPv6';

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface SessionAffinityConfig {
  clientIP?: { timeoutSeconds?: number };
}

export interface Service extends KubeObject {
  metadata: ObjectMeta;
  spec: {
    type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePort[];
    selector?: Record<string, string>;
    sessionAffinity?: 'ClientIP' | 'None';
    sessionAffinityConfig?: SessionAffinityConfig;
    ipFamilies?: IPFamily[];
    ipFamilyPolicy?: string;
    internalTrafficPolicy?: string;
    trafficDistribution?: string;
    externalName?: string;
  };
}

export interface ServiceExport extends KubeObject {
  metadata: ObjectMeta;
  spec?: { exportedLabels?: Record<string, string>; exportedAnnotations?: Record<string, string> };
  status?: { conditions?: Condition[] };
}

export interface ServiceImportPort {
  name?: string;
  protocol?: Protocol;
  appProtocol?: string;
  port: number;
}

export type ServiceImportType = 'ClusterSetIP' | 'Headless';

export interface ServiceImportSpec {
  ports: ServiceImportPort[];
  ips?: string[];
  type: ServiceImportType;
  sessionAffinity?: 'ClientIP' | 'None';
  sessionAffinityConfig?: SessionAffinityConfig;
  ipFamilies?: IPFamily[];
  internalTrafficPolicy?: string;
  trafficDistribution?: string;
}

export interface ServiceImportStatus {
  /** Whether imported EndpointSlices exist for this import ('Present') or not ('Absent'). */
  endpointSliceObjects?: 'Present' | 'Absent';
  clusters?: { cluster: string }[];
  conditions?: Condition[];
}

export interface ServiceImport extends KubeObject {
  metadata: ObjectMeta;
  spec: ServiceImportSpec;
  status?: ServiceImportStatus;
}

export interface Endpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

export interface EndpointPort {
  name?: string;
  protocol?: Protocol;
  appProtocol?: string;
  port?: number;
}

export interface EndpointSlice extends KubeObject {
  metadata: ObjectMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints?: Endpoint[];
  ports?: EndpointPort[] | null;
}

export interface Namespace extends KubeObject {
  metadata: ObjectMeta;
}
