/**
 * The member cluster's objects ClusterLink reads to learn its pod and service CIDRs, and
 * writes for Calico: their API names and the plain-JSON shapes of the fields used. They
 * belong to Kubernetes and to the CNIs (Calico's Kubernetes-datastore CRDs, Flannel's and
 * Cilium's ConfigMaps), not to kosmos.io, so they live with the module that reads them.
 */
import type { KubeObject } from '../../api/meta.js';

/** networking.k8s.io/v1 ServiceCIDR (GA in 1.33): the ranges ClusterIPs are allocated from. */
export const SERVICE_CIDR = { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR' } as const;
export interface ServiceCIDRObject extends KubeObject {
  spec?: { cidrs?: string[] };
}

/** Static kube-apiserver pods (kubeadm, RKE2, …) carry the range as a flag; label as kubeadm sets it. */
export const APISERVER_POD_NAMESPACE = 'kube-system';
export const APISERVER_POD_SELECTOR = 'component=kube-apiserver';
export const SERVICE_RANGE_FLAG = '--service-cluster-ip-range';

/** Calico, Kubernetes datastore. */
export const CALICO_API_VERSION = 'crd.projectcalico.org/v1';
export const CALICO_IPPOOL = 'IPPool';
export const CALICO_BLOCK_AFFINITY = 'BlockAffinity';
/**
 * Pools ClusterLink creates for remote CIDRs (the Go project's names, so a mixed deployment
 * recognises them): never counted as the cluster's own pod CIDRs.
 */
export const CLUSTERLINK_POOL_PREFIX = 'clusterlink-';
export interface CalicoIPPool extends KubeObject {
  spec?: {
    cidr?: string;
    disabled?: boolean;
    natOutgoing?: boolean;
    disableBGPExport?: boolean;
    ipipMode?: string;
    vxlanMode?: string;
    [extra: string]: unknown;
  };
}
export interface CalicoBlockAffinity extends KubeObject {
  spec?: { cidr?: string; node?: string; state?: string; deleted?: string | boolean };
}

/** Flannel: its ConfigMap (namespace kube-flannel in current manifests, kube-system in older ones). */
export const FLANNEL_CONFIGMAP = 'kube-flannel-cfg';
export const FLANNEL_NET_CONF_KEY = 'net-conf.json';

/** Cilium: the agent's ConfigMap, and per-node CIDRs of cluster-pool IPAM in CiliumNode. */
export const CILIUM_CONFIGMAP = { namespace: 'kube-system', name: 'cilium-config' } as const;
export const CILIUM_API_VERSION = 'cilium.io/v2';
export const CILIUM_NODE = 'CiliumNode';
export interface CiliumNodeObject extends KubeObject {
  spec?: { ipam?: { podCIDRs?: string[] } };
}

export interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}
