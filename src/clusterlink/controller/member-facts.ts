/**
 * Reads, from a member cluster, the objects the pod and service CIDR decisions need (see
 * pod-cidrs.ts and service-cidrs.ts). A kind the member does not serve, or that the
 * member's credentials may not read, comes back undefined with a note, so the decision falls
 * back instead of the whole reconcile failing.
 */
import type { Node, Pod } from '../../api/core.js';
import type { KubeObject } from '../../api/meta.js';
import { describeError } from '../../common/errors.js';
import { type KubeClient, KubeApiError, isNotServed } from '../../common/kube.js';
import {
  APISERVER_POD_NAMESPACE,
  APISERVER_POD_SELECTOR,
  CALICO_API_VERSION,
  CALICO_BLOCK_AFFINITY,
  CALICO_IPPOOL,
  CILIUM_API_VERSION,
  CILIUM_CONFIGMAP,
  CILIUM_NODE,
  FLANNEL_CONFIGMAP,
  SERVICE_CIDR,
  type CalicoBlockAffinity,
  type CalicoIPPool,
  type CiliumNodeObject,
  type ConfigMapObject,
  type ServiceCIDRObject,
} from './member-objects.js';
import type { PodCIDRInputs } from './pod-cidrs.js';
import type { ServiceCIDRInputs } from './service-cidrs.js';

export interface MemberFacts
  extends Omit<PodCIDRInputs, 'cni'>, Pick<ServiceCIDRInputs, 'serviceCIDRs' | 'apiserverPods'> {
  nodes: Node[];
  notes: string[];
}

const isForbidden = (e: unknown): boolean =>
  e instanceof KubeApiError && (e.status === 403 || e.status === 401);

async function optional<T>(what: string, notes: string[], read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (isNotServed(e)) return undefined;
    if (isForbidden(e)) {
      notes.push(`${what}: not readable with the member's credentials (${describeError(e)})`);
      return undefined;
    }
    throw e;
  }
}

export async function readMemberFacts(member: KubeClient, cni: string | undefined): Promise<MemberFacts> {
  const notes: string[] = [];
  const list = <T extends KubeObject>(
    apiVersion: string,
    kind: string,
    o: Parameters<KubeClient['list']>[2] = {},
  ) =>
    optional(`${kind}.${apiVersion}`, notes, async () => (await member.list<T>(apiVersion, kind, o)).items);
  const calico = (cni ?? 'calico') === 'calico';
  const [
    nodes,
    serviceCIDRs,
    apiserverPods,
    calicoIPPools,
    calicoBlockAffinities,
    flannel,
    ciliumConfig,
    ciliumNodes,
  ] = await Promise.all([
    member.list<Node>('v1', 'Node').then((l) => l.items),
    list<ServiceCIDRObject>(SERVICE_CIDR.apiVersion, SERVICE_CIDR.kind),
    list<Pod>('v1', 'Pod', { namespace: APISERVER_POD_NAMESPACE, labelSelector: APISERVER_POD_SELECTOR }),
    calico ? list<CalicoIPPool>(CALICO_API_VERSION, CALICO_IPPOOL) : undefined,
    calico ? list<CalicoBlockAffinity>(CALICO_API_VERSION, CALICO_BLOCK_AFFINITY) : undefined,
    cni === 'flannel'
      ? list<ConfigMapObject>('v1', 'ConfigMap', { fieldSelector: `metadata.name=${FLANNEL_CONFIGMAP}` })
      : undefined,
    cni === 'cilium'
      ? optional('ConfigMap cilium-config', notes, () =>
          member.get<ConfigMapObject>('v1', 'ConfigMap', CILIUM_CONFIGMAP.name, CILIUM_CONFIGMAP.namespace),
        )
      : undefined,
    cni === 'cilium' ? list<CiliumNodeObject>(CILIUM_API_VERSION, CILIUM_NODE) : undefined,
  ]);
  return {
    nodes,
    notes,
    ...(serviceCIDRs ? { serviceCIDRs } : {}),
    ...(apiserverPods ? { apiserverPods } : {}),
    ...(calicoIPPools ? { calicoIPPools } : {}),
    ...(calicoBlockAffinities ? { calicoBlockAffinities } : {}),
    ...(flannel ? { flannelConfigMaps: flannel } : {}),
    ...(ciliumConfig ? { ciliumConfig } : {}),
    ...(ciliumNodes ? { ciliumNodes } : {}),
  };
}
