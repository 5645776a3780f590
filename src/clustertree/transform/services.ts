/**
 * Host Services leaf pods can reach by name: for every host Service of a namespace that
 * ClusterTree runs pods of in a leaf, that leaf gets a same-name Service without a selector
 * and copies of the host Service's EndpointSlices, so `<svc>`, `<svc>.<ns>` and
 * `<svc>.<ns>.svc.cluster.local` resolve in the leaf (its own DNS, its own cluster IP) to
 * the host's endpoints, which ClusterLink makes reachable. When the leaf runs no pod of the
 * namespace any more, the copies go. As Kosmos Go's direct-cluster-service, minus its
 * namespace-prefix opt-in: here a namespace qualifies by being used.
 *
 * Never colliding with anyone else's Services, MCS' in particular:
 * - a host Service made by the MCS controller (`derived-<hash>`, managed-by
 *   mcs-controller.kosmos.io) is not copied: each leaf has its own derived Service of that name;
 * - only the host's own EndpointSlices of a Service are copied, not MCS' or other mirrors;
 * - a leaf Service or EndpointSlice of the same name that is not a ClusterTree copy (no
 *   kosmos.io/global, or another manager) is left alone, and the Service is reported as a conflict;
 * - copies are told apart by `kosmos.io/global=true` and ClusterTree's managed-by value, so
 *   only they are ever updated or deleted.
 */
import { ANNOTATION_GLOBAL } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import {
  LABEL_APP_MANAGED_BY,
  LABEL_K8S_SERVICE_NAME,
  LABEL_MANAGED_BY,
  MCS_CONTROLLER_ID,
} from '../../mcs/constants.js';
import { SERVICE_COPY_MANAGER } from '../names.js';

export interface ServicePort {
  name?: string;
  protocol?: string;
  port: number;
  appProtocol?: string;
  targetPort?: number | string;
  nodePort?: number;
}

export interface Service extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    externalName?: string;
    ports?: ServicePort[];
    selector?: Record<string, string>;
    sessionAffinity?: string;
    publishNotReadyAddresses?: boolean;
  };
}

export interface Endpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  zone?: string;
  nodeName?: string;
  targetRef?: unknown;
  hints?: unknown;
}

export interface EndpointSlice extends KubeObject {
  addressType: string;
  endpoints?: Endpoint[];
  ports?: { name?: string; protocol?: string; port?: number; appProtocol?: string }[];
}

/** Kubernetes' own Service for its apiserver: leaves have theirs. */
const KUBERNETES_SERVICE = { namespace: 'default', name: 'kubernetes' };

const nameOf = (o: KubeObject): string => o.metadata?.name ?? '';

export function copyableService(svc: Service): boolean {
  if (svc.metadata?.namespace === KUBERNETES_SERVICE.namespace && nameOf(svc) === KUBERNETES_SERVICE.name)
    return false;
  return svc.metadata?.labels?.[LABEL_APP_MANAGED_BY] !== MCS_CONTROLLER_ID;
}

/** A leaf object ClusterTree made (and so may change or delete). */
export const isServiceCopy = (o: KubeObject): boolean =>
  o.metadata?.annotations?.[ANNOTATION_GLOBAL] === 'true' &&
  (o.metadata?.labels?.[LABEL_APP_MANAGED_BY] === SERVICE_COPY_MANAGER ||
    o.metadata?.labels?.[LABEL_MANAGED_BY] === SERVICE_COPY_MANAGER);

const headless = (svc: Service): boolean => svc.spec?.clusterIP === 'None';

export function leafServiceCopy(svc: Service): Service {
  const ns = svc.metadata?.namespace ?? 'default';
  const ports = (svc.spec?.ports ?? []).map((p) => ({
    ...(p.name !== undefined ? { name: p.name } : {}),
    protocol: p.protocol ?? 'TCP',
    port: p.port,
    ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
  }));
  const spec: NonNullable<Service['spec']> =
    svc.spec?.type === 'ExternalName'
      ? { type: 'ExternalName', externalName: svc.spec.externalName ?? '' }
      : {
          // NodePort and LoadBalancer are the host's business; in the leaf a name and a VIP are enough.
          type: 'ClusterIP',
          ...(headless(svc) ? { clusterIP: 'None' } : {}),
          ports,
          ...(svc.spec?.sessionAffinity ? { sessionAffinity: svc.spec.sessionAffinity } : {}),
          ...(svc.spec?.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
        };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: nameOf(svc),
      namespace: ns,
      labels: { ...(svc.metadata?.labels ?? {}), [LABEL_APP_MANAGED_BY]: SERVICE_COPY_MANAGER },
      annotations: { [ANNOTATION_GLOBAL]: 'true' },
    },
    spec,
  };
}

/** The host's own slices of a Service (the endpointslice controller's, or a user's), not mirrors. */
export function hostSlicesOf(svc: Service, slices: readonly EndpointSlice[]): EndpointSlice[] {
  return slices.filter(
    (s) =>
      s.metadata?.namespace === svc.metadata?.namespace &&
      s.metadata?.labels?.[LABEL_K8S_SERVICE_NAME] === nameOf(svc) &&
      s.metadata?.labels?.[LABEL_MANAGED_BY] !== MCS_CONTROLLER_ID &&
      s.metadata?.labels?.[LABEL_MANAGED_BY] !== SERVICE_COPY_MANAGER,
  );
}

/**
 * The leaf copy of a host slice: same name, addresses, conditions and ports; the node name
 * and target reference go (they name host objects), and a managed-by of ClusterTree's so the
 * leaf's endpointslice controller leaves it alone.
 */
export function leafSliceCopy(slice: EndpointSlice, service: string): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: nameOf(slice),
      namespace: slice.metadata?.namespace ?? 'default',
      labels: { [LABEL_K8S_SERVICE_NAME]: service, [LABEL_MANAGED_BY]: SERVICE_COPY_MANAGER },
      annotations: { [ANNOTATION_GLOBAL]: 'true' },
    },
    addressType: slice.addressType,
    endpoints: (slice.endpoints ?? []).map((e) => ({
      addresses: [...e.addresses],
      ...(e.conditions ? { conditions: { ...e.conditions } } : {}),
      ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
      ...(e.zone !== undefined ? { zone: e.zone } : {}),
    })),
    ports: (slice.ports ?? []).map((p) => ({ ...p })),
  };
}

export interface LeafServicesInput {
  /** The leaf runs pods of the namespace that ClusterTree placed there. */
  used: boolean;
  /** The namespace's host Services and EndpointSlices. */
  hostServices: readonly Service[];
  hostSlices: readonly EndpointSlice[];
  /** The namespace's leaf Services and EndpointSlices, copies or not. */
  leafServices: readonly Service[];
  leafSlices: readonly EndpointSlice[];
}

export interface LeafServicesPlan {
  /** Services to apply, each with its slices. */
  apply: { service: Service; slices: EndpointSlice[]; recreate: boolean }[];
  /** Names of copies no longer wanted. */
  deleteServices: string[];
  deleteSlices: string[];
  /** Host Services a leaf Service of the same name that is not a copy keeps from the leaf. */
  conflicts: string[];
}

/** A copy whose kind of cluster IP changed cannot be updated (the field is immutable). */
function mustRecreate(existing: Service, desired: Service): boolean {
  const kind = (s: Service) => (s.spec?.type === 'ExternalName' ? 'name' : headless(s) ? 'headless' : 'ip');
  return kind(existing) !== kind(desired);
}

export function planLeafServices(input: LeafServicesInput): LeafServicesPlan {
  const leafServices = new Map(input.leafServices.map((s) => [nameOf(s), s]));
  const leafSlices = new Map(input.leafSlices.map((s) => [nameOf(s), s]));
  const plan: LeafServicesPlan = { apply: [], deleteServices: [], deleteSlices: [], conflicts: [] };
  const wantedServices = new Set<string>();
  const wantedSlices = new Set<string>();
  if (input.used) {
    for (const svc of input.hostServices) {
      if (!copyableService(svc)) continue;
      const existing = leafServices.get(nameOf(svc));
      if (existing && !isServiceCopy(existing)) {
        plan.conflicts.push(nameOf(svc));
        continue;
      }
      const service = leafServiceCopy(svc);
      wantedServices.add(nameOf(svc));
      const slices =
        service.spec?.type === 'ExternalName'
          ? []
          : hostSlicesOf(svc, input.hostSlices)
              .filter((s) => {
                const there = leafSlices.get(nameOf(s));
                return !there || isServiceCopy(there);
              })
              .map((s) => leafSliceCopy(s, nameOf(svc)));
      for (const s of slices) wantedSlices.add(nameOf(s));
      plan.apply.push({
        service,
        slices,
        recreate: existing !== undefined && mustRecreate(existing, service),
      });
    }
  }
  for (const s of input.leafServices)
    if (isServiceCopy(s) && !wantedServices.has(nameOf(s))) plan.deleteServices.push(nameOf(s));
  for (const s of input.leafSlices)
    if (isServiceCopy(s) && !wantedSlices.has(nameOf(s))) plan.deleteSlices.push(nameOf(s));
  return plan;
}
