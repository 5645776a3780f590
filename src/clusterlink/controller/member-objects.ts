/**
 * The member cluster's objects ClusterLink reads to learn its service CIDRs: their API
 * names and the plain-JSON shapes of the fields used. They belong to Kubernetes, not to
 * kosmos.io, so they live with the module that reads them.
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
