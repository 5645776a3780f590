import { describe, expect, it } from 'vitest';
import {
  leafServiceCopy,
  leafSliceCopy,
  planLeafServices,
  type EndpointSlice,
  type Service,
} from '../../../src/clustertree/transform/services.js';

const svc = (name: string, spec: Service['spec'] = {}, labels: Record<string, string> = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop', labels },
  spec: {
    type: 'ClusterIP',
    clusterIP: '10.96.0.10',
    selector: { app: name },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
    sessionAffinity: 'None',
    ...spec,
  },
});

const slice = (
  name: string,
  service: string,
  managedBy = 'endpointslice-controller.k8s.io',
): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name,
    namespace: 'shop',
    labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': managedBy },
  },
  addressType: 'IPv4',
  endpoints: [
    {
      addresses: ['10.32.0.5'],
      conditions: { ready: true },
      nodeName: 'host-node-0',
      targetRef: { kind: 'Pod', name: 'db-1' },
      zone: 'z1',
    },
  ],
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
});

const copyOf = leafServiceCopy;
const leafOwn = (name: string): Service => ({ ...svc(name), metadata: { name, namespace: 'shop' } });

describe('the leaf copy of a host Service', () => {
  it('GIVEN a ClusterIP Service THEN the copy has its name, labels and ports, no selector and no cluster IP of the host', () => {
    expect(leafServiceCopy(svc('db', {}, { tier: 'data' }))).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'db',
        namespace: 'shop',
        labels: { tier: 'data', 'app.kubernetes.io/managed-by': 'clustertree.kosmos.io' },
        annotations: { 'kosmos.io/global': 'true' },
      },
      spec: {
        type: 'ClusterIP',
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
        sessionAffinity: 'None',
      },
    });
  });

  it.each([
    ['a headless Service stays headless', { clusterIP: 'None' }, { type: 'ClusterIP', clusterIP: 'None' }],
    ['a NodePort Service is a ClusterIP one in the leaf', { type: 'NodePort' }, { type: 'ClusterIP' }],
    ['a LoadBalancer Service too', { type: 'LoadBalancer' }, { type: 'ClusterIP' }],
    [
      'an ExternalName Service keeps its name and nothing else',
      { type: 'ExternalName', externalName: 'db.example.com' },
      { type: 'ExternalName', externalName: 'db.example.com' },
    ],
  ])('GIVEN %s', (_name, spec, want) => {
    expect(leafServiceCopy(svc('db', spec)).spec).toMatchObject(want);
  });

  it('GIVEN a host slice THEN the copy keeps addresses, conditions, zone and ports, and drops host node names and pod references', () => {
    expect(leafSliceCopy(slice('db-abc12', 'db'), 'db')).toEqual({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'db-abc12',
        namespace: 'shop',
        labels: {
          'kubernetes.io/service-name': 'db',
          'endpointslice.kubernetes.io/managed-by': 'clustertree.kosmos.io',
        },
        annotations: { 'kosmos.io/global': 'true' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.32.0.5'], conditions: { ready: true }, zone: 'z1' }],
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    });
  });
});

describe('which host Services a leaf gets', () => {
  const base = {
    hostSlices: [] as EndpointSlice[],
    leafServices: [] as Service[],
    leafSlices: [] as EndpointSlice[],
  };
  const applied = (p: ReturnType<typeof planLeafServices>) => p.apply.map((a) => a.service.metadata?.name);

  it('GIVEN the leaf runs pods of the namespace THEN every Service of it is copied, each with its own slices only', () => {
    const p = planLeafServices({
      ...base,
      used: true,
      hostServices: [svc('db'), svc('web')],
      hostSlices: [slice('db-1', 'db'), slice('web-1', 'web'), slice('db-2', 'db')],
    });
    expect(p.apply.map((a) => [a.service.metadata?.name, a.slices.map((s) => s.metadata?.name)])).toEqual([
      ['db', ['db-1', 'db-2']],
      ['web', ['web-1']],
    ]);
  });

  it("GIVEN the host's kubernetes Service and an MCS derived Service THEN neither is copied (the leaf has its own)", () => {
    const p = planLeafServices({
      ...base,
      used: true,
      hostServices: [
        { ...svc('kubernetes'), metadata: { name: 'kubernetes', namespace: 'default' } },
        svc('derived-abc123', {}, { 'app.kubernetes.io/managed-by': 'mcs-controller.kosmos.io' }),
      ],
    });
    expect(applied(p)).toEqual([]);
  });

  it('GIVEN MCS slices and copies labelled with the same service name THEN only the host’s own slices are copied', () => {
    const p = planLeafServices({
      ...base,
      used: true,
      hostServices: [svc('db')],
      hostSlices: [
        slice('db-1', 'db'),
        slice('db-1-leaf-1', 'db', 'mcs-controller.kosmos.io'),
        slice('db-x', 'db', 'clustertree.kosmos.io'),
      ],
    });
    expect(p.apply[0]?.slices.map((s) => s.metadata?.name)).toEqual(['db-1']);
  });

  it("GIVEN a leaf Service of the same name that ClusterTree did not make THEN it is left alone and reported, and nothing of the leaf's is deleted", () => {
    const p = planLeafServices({
      ...base,
      used: true,
      hostServices: [svc('db')],
      leafServices: [leafOwn('db'), leafOwn('cache')],
      leafSlices: [{ ...slice('db-own', 'db'), metadata: { name: 'db-own', namespace: 'shop' } }],
    });
    expect(p).toEqual({ apply: [], deleteServices: [], deleteSlices: [], conflicts: ['db'] });
  });

  it('GIVEN the leaf runs no pod of the namespace any more THEN its copies go, and only its copies', () => {
    const p = planLeafServices({
      ...base,
      used: false,
      hostServices: [svc('db')],
      leafServices: [copyOf(svc('db')), leafOwn('cache')],
      leafSlices: [leafSliceCopy(slice('db-1', 'db'), 'db'), slice('cache-1', 'cache')],
    });
    expect(p).toEqual({ apply: [], deleteServices: ['db'], deleteSlices: ['db-1'], conflicts: [] });
  });

  it('GIVEN a host Service or slice deleted THEN its copy goes', () => {
    const p = planLeafServices({
      ...base,
      used: true,
      hostServices: [svc('db')],
      hostSlices: [slice('db-2', 'db')],
      leafServices: [copyOf(svc('db')), copyOf(svc('old'))],
      leafSlices: [leafSliceCopy(slice('db-1', 'db'), 'db'), leafSliceCopy(slice('db-2', 'db'), 'db')],
    });
    expect([applied(p), p.deleteServices, p.deleteSlices]).toEqual([['db'], ['old'], ['db-1']]);
  });

  it('GIVEN a host Service that became headless THEN its copy is recreated (a cluster IP cannot change in place)', () => {
    const p = planLeafServices({
      ...base,
      used: true,
      hostServices: [svc('db', { clusterIP: 'None' })],
      leafServices: [{ ...copyOf(svc('db')), spec: { ...copyOf(svc('db')).spec, clusterIP: '10.100.0.7' } }],
    });
    expect(p.apply.map((a) => a.recreate)).toEqual([true]);
    const same = planLeafServices({
      ...base,
      used: true,
      hostServices: [svc('db')],
      leafServices: [{ ...copyOf(svc('db')), spec: { ...copyOf(svc('db')).spec, clusterIP: '10.100.0.7' } }],
    });
    expect(same.apply.map((a) => a.recreate)).toEqual([false]);
  });
});
