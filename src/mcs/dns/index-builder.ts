/**
 * The DNS server's in-memory view: per "<service>.<namespace>", the import's type, clusterset
 * IPs, ports and the endpoints of every exporting cluster, built from the ServiceImports and
 * the MCS-labelled EndpointSlices of the cluster the server answers for.
 */
import { LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER } from '../constants.js';
import type { EndpointSlice, ServiceImport, ServiceImportPort, ServiceImportType } from '../types.js';

export interface IndexedEndpoint {
  address: string;
  family: 4 | 6;
  /** Lower-case hostname label: the endpoint's hostname, else its address with dashes. */
  hostname: string;
  cluster: string;
  ready: boolean;
  ports: { name?: string; protocol: string; port: number }[];
}

export interface IndexedService {
  name: string;
  namespace: string;
  type: ServiceImportType;
  ips: string[];
  ports: ServiceImportPort[];
  endpoints: IndexedEndpoint[];
}

export interface ImportIndex {
  services: Map<string, IndexedService>;
  namespaces: Set<string>;
}

export const indexKey = (name: string, namespace: string) =>
  `${name.toLowerCase()}.${namespace.toLowerCase()}`;

export function buildIndex(imports: readonly ServiceImport[], slices: readonly EndpointSlice[]): ImportIndex {
  const services = new Map<string, IndexedService>();
  const namespaces = new Set<string>();
  for (const imp of imports) {
    if (imp.metadata.deletionTimestamp) continue;
    const name = imp.metadata.name ?? '';
    const namespace = imp.metadata.namespace ?? '';
    namespaces.add(namespace.toLowerCase());
    services.set(indexKey(name, namespace), {
      name,
      namespace,
      type: imp.spec.type,
      ips: imp.spec.ips ?? [],
      ports: imp.spec.ports ?? [],
      endpoints: [],
    });
  }
  for (const s of slices) {
    const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
    const cluster = s.metadata.labels?.[LABEL_SOURCE_CLUSTER];
    if (!svc || !cluster || s.addressType === 'FQDN' || s.metadata.deletionTimestamp) continue;
    const entry = services.get(indexKey(svc, s.metadata.namespace ?? ''));
    if (!entry) continue;
    const ports = (s.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      protocol: p.protocol ?? 'TCP',
      port: p.port ?? 0,
    }));
    for (const ep of s.endpoints ?? []) {
      for (const address of ep.addresses) {
        entry.endpoints.push({
          address,
          family: s.addressType === 'IPv6' ? 6 : 4,
          hostname: (ep.hostname ?? address.replace(/[.:]/g, '-')).toLowerCase(),
          cluster: cluster.toLowerCase(),
          // The KEP (and CoreDNS) count an endpoint whose readiness is unknown as ready.
          ready: ep.conditions?.ready !== false,
          ports,
        });
      }
    }
  }
  return { services, namespaces };
}
