import type { ClusterSnapshot } from '../../../src/mcs/derive/derive.js';
import type { EndpointSlice, Service, ServiceExport, ServicePort } from '../../../src/mcs/types.js';

export const ns = (name: string, annotations?: Record<string, string>) => ({
  metadata: { name, ...(annotations ? { annotations } : {}) },
});

export function svc(
  name: string,
  namespace: string,
  spec: Partial<Service['spec']> = {},
  annotations?: Record<string, string>,
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.1.0.10',
      ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      ...spec,
    },
  };
}

export function exp(
  name: string,
  namespace: string,
  created = '2026-01-01T00:00:00Z',
  extra: Partial<ServiceExport> = {},
): ServiceExport {
  return {
    apiVersion: 'multicluster.x-k8s.io/v1beta1',
    kind: 'ServiceExport',
    metadata: { name, namespace, creationTimestamp: created, generation: 1 },
    ...extra,
  };
}

export function slice(
  service: string,
  namespace: string,
  sliceName: string,
  ips: string[],
  ports: ServicePort[] = [{ name: 'http', protocol: 'TCP', port: 8080 }],
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName,
      namespace,
      labels: {
        'kubernetes.io/service-name': service,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: 'IPv4',
    endpoints: ips.map((ip, i) => ({ addresses: [ip], conditions: { ready: true }, nodeName: `node-${i}` })),
    ports: ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
  };
}

export function cluster(name: string, parts: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return { name, namespaces: [ns('app')], services: [], exports: [], slices: [], imports: [], ...parts };
}
