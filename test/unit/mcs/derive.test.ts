import { describe, expect, it } from 'vitest';
import {
  derive,
  derivedServiceAction,
  derivedServiceName,
  type ClusterSnapshot,
} from '../../../src/mcs/derive/derive.js';
import { parseCidr } from '../../../src/mcs/derive/ip.js';
import { cluster, exp, ns, slice, svc } from './fixtures.js';

const opts = { clustersetCidrs: [parseCidr('172.31.0.0/16')], now: '2026-11-25T11:00:00Z' };
const imports = (d: ReturnType<typeof derive>, c: string) => d.get(c)!.imports;
const slices = (d: ReturnType<typeof derive>, c: string) => d.get(c)!.slices;
const conds = (d: ReturnType<typeof derive>, c: string, name = 'web') =>
  Object.fromEntries(
    (d.get(c)!.exportStatuses.find((s) => s.name === name)?.conditions ?? []).map((x) => [x.type, x]),
  );

const leaf1Exports = (parts: Partial<ClusterSnapshot> = {}) =>
  cluster('leaf-1', {
    services: [svc('web', 'app')],
    exports: [exp('web', 'app')],
    slices: [slice('web', 'app', 'web-abcde', ['10.34.0.5', '10.34.1.7'])],
    ...parts,
  });

describe('derive: export and import', () => {
  it('GIVEN a Service exported in leaf-1 THEN every cluster with the namespace gets a ClusterSetIP import with its ports', () => {
    const d = derive(
      [cluster('host'), leaf1Exports(), cluster('leaf-2'), cluster('leaf-3', { namespaces: [ns('other')] })],
      opts,
    );
    for (const c of ['host', 'leaf-1', 'leaf-2']) {
      const [imp] = imports(d, c);
      expect(imp?.metadata).toMatchObject({ name: 'web', namespace: 'app' });
      expect(imp?.spec.type).toBe('ClusterSetIP');
      expect(imp?.spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80 }]);
      expect(imp?.spec.ips).toHaveLength(1);
      expect(imp?.spec.ipFamilies).toEqual(['IPv4']);
      expect(imp?.status?.clusters).toEqual([{ cluster: 'leaf-1' }]);
    }
    expect(imports(d, 'leaf-3')).toEqual([]); // no namespace there: nothing is imported
  });

  it('the clusterset IP is the same in every cluster and comes from the clusterset CIDR', () => {
    const d = derive([cluster('host'), leaf1Exports(), cluster('leaf-2')], opts);
    const ips = new Set(['host', 'leaf-1', 'leaf-2'].map((c) => imports(d, c)[0]?.spec.ips?.[0]));
    expect(ips.size).toBe(1);
    expect([...ips][0]).toMatch(/^172\.31\./);
  });

  it('an existing import keeps its clusterset IP even when the hash would pick another', () => {
    const existing = {
      apiVersion: 'multicluster.x-k8s.io/v1beta1',
      kind: 'ServiceImport',
      metadata: { name: 'web', namespace: 'app' },
      spec: { type: 'ClusterSetIP' as const, ports: [], ips: ['172.31.9.9'] },
    };
    const d = derive([cluster('host', { imports: [existing] }), leaf1Exports()], opts);
    expect(imports(d, 'leaf-1')[0]?.spec.ips).toEqual(['172.31.9.9']);
  });

  it('the exporting cluster endpoints reach every cluster as slices labelled with service name and source cluster', () => {
    const d = derive([cluster('host'), leaf1Exports(), cluster('leaf-2')], opts);
    for (const c of ['host', 'leaf-1', 'leaf-2']) {
      const [s] = slices(d, c);
      expect(s?.metadata.name).toBe('web-abcde-leaf-1');
      expect(s?.metadata.labels).toEqual({
        'multicluster.kubernetes.io/service-name': 'web',
        'multicluster.kubernetes.io/source-cluster': 'leaf-1',
        'endpointslice.kubernetes.io/managed-by': 'mcs-controller.kosmos.io',
      });
      expect(s?.endpoints?.map((e) => [e.addresses[0], e.hostname])).toEqual([
        ['10.34.0.5', '10-34-0-5'],
        ['10.34.1.7', '10-34-1-7'],
      ]);
      expect(s?.endpoints?.[0]).not.toHaveProperty('nodeName');
      expect(s?.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    }
  });

  it('a headless Service is imported as Headless without clusterset IPs', () => {
    const d = derive(
      [
        leaf1Exports({ services: [svc('web', 'app', { clusterIP: 'None', ipFamilies: ['IPv4'] })] }),
        cluster('leaf-2'),
      ],
      opts,
    );
    const [imp] = imports(d, 'leaf-2');
    expect(imp?.spec.type).toBe('Headless');
    expect(imp?.spec.ips).toBeUndefined();
    expect(imp?.spec.ipFamilies).toEqual(['IPv4']);
  });

  it.each([
    ['the ServiceExport is deleted', { exports: [] }],
    [
      'the ServiceExport is being deleted',
      {
        exports: [exp('web', 'app', undefined, {})].map((e) => ({
          ...e,
          metadata: { ...e.metadata, deletionTimestamp: '2026-01-02T00:00:00Z' },
        })),
      },
    ],
    ['the Service is deleted', { services: [] }],
  ])('WHEN %s THEN no import or slice remains anywhere', (_what, parts) => {
    const d = derive([cluster('host'), leaf1Exports(parts), cluster('leaf-2')], opts);
    for (const c of ['host', 'leaf-1', 'leaf-2']) {
      expect(imports(d, c)).toEqual([]);
      expect(slices(d, c)).toEqual([]);
    }
  });

  it('a Service without a local ServiceExport is not exported even when another cluster exports the name', () => {
    const d = derive(
      [
        leaf1Exports(),
        cluster('leaf-2', {
          services: [svc('web', 'app')],
          slices: [slice('web', 'app', 'web-zzzzz', ['10.36.0.9'])],
        }),
      ],
      opts,
    );
    expect(imports(d, 'leaf-2')[0]?.status?.clusters).toEqual([{ cluster: 'leaf-1' }]);
    expect(
      slices(d, 'leaf-2').map((s) => s.metadata.labels?.['multicluster.kubernetes.io/source-cluster']),
    ).toEqual(['leaf-1']);
  });

  it('exporting the same Service from leaf-2 adds its endpoints beside leaf-1 ones', () => {
    const leaf2 = cluster('leaf-2', {
      services: [svc('web', 'app', { clusterIP: '10.2.0.10' })],
      exports: [exp('web', 'app', '2026-01-02T00:00:00Z')],
      slices: [slice('web', 'app', 'web-zzzzz', ['10.36.0.9'])],
    });
    const d = derive([cluster('host'), leaf1Exports(), leaf2], opts);
    expect(imports(d, 'host')[0]?.status?.clusters).toEqual([{ cluster: 'leaf-1' }, { cluster: 'leaf-2' }]);
    expect(slices(d, 'host').flatMap((s) => s.endpoints?.map((e) => e.addresses[0]))).toEqual([
      '10.34.0.5',
      '10.34.1.7',
      '10.36.0.9',
    ]);
    expect(conds(d, 'leaf-2')['Conflict']).toMatchObject({ status: 'False', reason: 'NoConflicts' });
  });

  it('the controller own derived slices are never exported again', () => {
    const derived = derive([leaf1Exports(), cluster('leaf-2')], opts).get('leaf-2')!.slices;
    const d = derive(
      [
        leaf1Exports(),
        cluster('leaf-2', {
          services: [svc('web', 'app')],
          exports: [exp('web', 'app', '2026-01-03T00:00:00Z')],
          slices: derived,
        }),
      ],
      opts,
    );
    expect(
      slices(d, 'leaf-1').map((s) => s.metadata.labels?.['multicluster.kubernetes.io/source-cluster']),
    ).toEqual(['leaf-1']);
  });
});

describe('derive: ServiceExport conditions', () => {
  it('a valid export is Valid, Ready (Exported) and without conflicts', () => {
    const c = conds(derive([leaf1Exports()], opts), 'leaf-1');
    expect(c['Valid']).toMatchObject({ status: 'True', reason: 'Valid', observedGeneration: 1 });
    expect(c['Ready']).toMatchObject({ status: 'True', reason: 'Exported' });
    expect(c['Conflict']).toMatchObject({ status: 'False', reason: 'NoConflicts' });
    expect(c['Valid']?.lastTransitionTime).toBe(opts.now);
  });

  it('an export without its Service is Valid=False NoService and imports nothing', () => {
    const d = derive([leaf1Exports({ services: [] }), cluster('leaf-2')], opts);
    expect(conds(d, 'leaf-1')['Valid']).toMatchObject({ status: 'False', reason: 'NoService' });
    expect(imports(d, 'leaf-2')).toEqual([]);
  });

  it('an ExternalName Service is Valid=False InvalidServiceType and imports nothing', () => {
    const d = derive(
      [
        leaf1Exports({
          services: [svc('web', 'app', { type: 'ExternalName', externalName: 'example.com' })],
        }),
        cluster('leaf-2'),
      ],
      opts,
    );
    expect(conds(d, 'leaf-1')['Valid']).toMatchObject({ status: 'False', reason: 'InvalidServiceType' });
    expect(imports(d, 'leaf-2')).toEqual([]);
  });

  it('an unchanged condition keeps its lastTransitionTime', () => {
    const old = {
      type: 'Valid',
      status: 'True' as const,
      reason: 'Valid',
      message: 'x',
      lastTransitionTime: '2025-01-01T00:00:00Z',
    };
    const d = derive(
      [leaf1Exports({ exports: [exp('web', 'app', undefined, { status: { conditions: [old] } })] })],
      opts,
    );
    expect(conds(d, 'leaf-1')['Valid']?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
  });
});

describe('derive: conflicts between exporters (oldest export wins)', () => {
  const second = (spec: Parameters<typeof svc>[2], created = '2026-01-02T00:00:00Z') =>
    cluster('leaf-2', {
      services: [svc('web', 'app', spec)],
      exports: [exp('web', 'app', created)],
      slices: [slice('web', 'app', 'web-zzzzz', ['10.36.0.9'])],
    });

  it('an extra port on the second exporter gives the union of ports and PortConflict on both exports', () => {
    const d = derive(
      [
        leaf1Exports(),
        second({
          ports: [
            { name: 'http', port: 80 },
            { name: 'metrics', port: 9090 },
          ],
        }),
      ],
      opts,
    );
    expect(imports(d, 'leaf-1')[0]?.spec.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80 },
      { name: 'metrics', protocol: 'TCP', port: 9090 },
    ]);
    for (const c of ['leaf-1', 'leaf-2'])
      expect(conds(d, c)['Conflict']).toMatchObject({ status: 'True', reason: 'PortConflict' });
  });

  it('the same port name with another number keeps the oldest definition and reports PortConflict', () => {
    const d = derive([leaf1Exports(), second({ ports: [{ name: 'http', port: 8081 }] })], opts);
    expect(imports(d, 'leaf-2')[0]?.spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80 }]);
    expect(conds(d, 'leaf-2')['Conflict']?.message).toContain('Conflicting ports');
  });

  it('which export is oldest decides, not which cluster is listed first', () => {
    const d = derive(
      [
        leaf1Exports({ exports: [exp('web', 'app', '2026-03-01T00:00:00Z')] }),
        second({ ports: [{ name: 'http', port: 8081 }] }),
      ],
      opts,
    );
    expect(imports(d, 'leaf-1')[0]?.spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8081 }]);
  });

  it('a headless export after a ClusterIP one keeps ClusterSetIP and reports TypeConflict', () => {
    const d = derive([leaf1Exports(), second({ clusterIP: 'None' })], opts);
    expect(imports(d, 'leaf-2')[0]?.spec.type).toBe('ClusterSetIP');
    for (const c of ['leaf-1', 'leaf-2'])
      expect(conds(d, c)['Conflict']).toMatchObject({ status: 'True', reason: 'TypeConflict' });
    expect(conds(d, 'leaf-1')['Conflict']?.message).toBe(
      'Conflicting type. Using "ClusterSetIP" from oldest service export in "leaf-1". 1/2 clusters disagree.',
    );
  });

  it('several conflicts at once are comma-joined in one condition', () => {
    const d = derive(
      [
        leaf1Exports(),
        second({ clusterIP: 'None', ports: [{ name: 'x', port: 1 }], sessionAffinity: 'ClientIP' }),
      ],
      opts,
    );
    expect(conds(d, 'leaf-1')['Conflict']?.reason).toBe('PortConflict,TypeConflict,SessionAffinityConflict');
    expect(conds(d, 'leaf-1')['Conflict']?.message?.split('\n')).toHaveLength(3);
  });

  it('session affinity, its config and traffic fields are copied from the Service', () => {
    const d = derive(
      [
        leaf1Exports({
          services: [
            svc('web', 'app', {
              sessionAffinity: 'ClientIP',
              sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
              internalTrafficPolicy: 'Local',
              trafficDistribution: 'PreferClose',
            }),
          ],
        }),
      ],
      opts,
    );
    expect(imports(d, 'leaf-1')[0]?.spec).toMatchObject({
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
      internalTrafficPolicy: 'Local',
      trafficDistribution: 'PreferClose',
    });
  });

  it('only the exported labels and annotations of the oldest export reach the import', () => {
    const e = exp('web', 'app', undefined, {
      spec: { exportedLabels: { team: 'a' }, exportedAnnotations: { note: 'x' } },
    });
    const d = derive([leaf1Exports({ exports: [e] })], opts);
    expect(imports(d, 'leaf-1')[0]?.metadata.labels).toEqual({
      team: 'a',
      'app.kubernetes.io/managed-by': 'mcs-controller.kosmos.io',
    });
    expect(imports(d, 'leaf-1')[0]?.metadata.annotations).toEqual({ note: 'x' });
  });
});

describe('derive: ClusterSetIP through a derived Service per importing cluster (ipSource service)', () => {
  const byService = { ...opts, ipSource: 'service' as const };
  const derivedName = derivedServiceName('web');
  /** The derived Service as the apiserver returns it once it has allocated an IP. */
  const allocated = (ip: string) => ({
    ...svc(derivedName, 'app', { clusterIP: ip, ipFamilies: ['IPv4'] }),
    metadata: {
      name: derivedName,
      namespace: 'app',
      labels: {
        'multicluster.kubernetes.io/service-name': 'web',
        'app.kubernetes.io/managed-by': 'mcs-controller.kosmos.io',
      },
    },
  });

  it('every importing cluster gets a selectorless ClusterIP Service with the import ports, and the import waits for its IP', () => {
    const d = derive([cluster('host'), leaf1Exports(), cluster('leaf-2')], byService);
    for (const c of ['host', 'leaf-1', 'leaf-2']) {
      const [s] = d.get(c)!.services;
      expect(s?.metadata).toMatchObject({ name: derivedName, namespace: 'app' });
      expect(s?.spec).toMatchObject({
        type: 'ClusterIP',
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
      });
      expect(s?.spec.selector).toBeUndefined();
      expect(imports(d, c)).toEqual([]);
    }
    expect(derivedName).toMatch(/^derived-[0-9a-f]{10}$/);
  });

  it("an import carries its own cluster's derived Service IP, and the slices name that Service for kube-proxy", () => {
    const d = derive(
      [
        cluster('host', { services: [allocated('10.96.0.40')] }),
        leaf1Exports(),
        cluster('leaf-2', { services: [allocated('10.98.7.7')] }),
      ],
      byService,
    );
    expect(imports(d, 'host')[0]?.spec.ips).toEqual(['10.96.0.40']);
    expect(imports(d, 'leaf-2')[0]?.spec.ips).toEqual(['10.98.7.7']);
    for (const c of ['host', 'leaf-2'])
      expect(slices(d, c)[0]?.metadata.labels).toMatchObject({
        'kubernetes.io/service-name': derivedName,
        'multicluster.kubernetes.io/service-name': 'web',
        'multicluster.kubernetes.io/source-cluster': 'leaf-1',
      });
  });

  it('a Service of the same name that the controller did not make does not lend its IP', () => {
    const foreign = svc(derivedName, 'app', { clusterIP: '10.96.9.9' });
    const d = derive([cluster('host', { services: [foreign] }), leaf1Exports()], byService);
    expect(imports(d, 'host')).toEqual([]);
  });

  it('a headless import gets no derived Service, and its slices keep only the MCS labels', () => {
    const d = derive(
      [leaf1Exports({ services: [svc('web', 'app', { clusterIP: 'None' })] }), cluster('host')],
      byService,
    );
    expect(d.get('host')!.services).toEqual([]);
    expect(slices(d, 'host')[0]?.metadata.labels).not.toHaveProperty('kubernetes.io/service-name');
  });

  it('the derived slices are never taken for the exporting cluster own endpoints', () => {
    const first = derive(
      [cluster('host', { services: [allocated('10.96.0.40')] }), leaf1Exports()],
      byService,
    );
    const again = derive(
      [
        cluster('host', { services: [allocated('10.96.0.40')], slices: slices(first, 'host') }),
        leaf1Exports(),
      ],
      byService,
    );
    expect(slices(again, 'host').map((s) => s.metadata.name)).toEqual(['web-abcde-leaf-1']);
  });

  it('a derived Service is kept as the apiserver returns it, re-applied when ports change, and re-created for another primary family', () => {
    const [want] = derive([cluster('host'), leaf1Exports()], byService).get('host')!.services;
    if (!want) throw new Error('no derived Service');
    // as read back: defaults filled in, an IP allocated
    const served = {
      ...want,
      metadata: { ...want.metadata, resourceVersion: '7', uid: 'u' },
      spec: {
        ...want.spec,
        clusterIP: '10.96.0.40',
        clusterIPs: ['10.96.0.40'],
        ports: want.spec.ports?.map((p) => ({ ...p, targetPort: p.port })),
      },
    };
    expect(derivedServiceAction(undefined, want)).toBe('apply');
    expect(derivedServiceAction(served, want)).toBe('keep');
    expect(
      derivedServiceAction(served, {
        ...want,
        spec: { ...want.spec, ports: [{ name: 'http', protocol: 'TCP', port: 81 }] },
      }),
    ).toBe('apply');
    expect(derivedServiceAction(served, { ...want, spec: { ...want.spec, ipFamilies: ['IPv6'] } })).toBe(
      'recreate',
    );
    // adding a second family keeps the primary: an in-place update Kubernetes allows
    expect(
      derivedServiceAction(served, {
        ...want,
        spec: { ...want.spec, ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' },
      }),
    ).toBe('apply');
  });
});

describe('derive: exported labels and annotations that disagree (mcs-api LabelsConflict, AnnotationsConflict)', () => {
  const exporter = (c: string, created: string, spec: NonNullable<ReturnType<typeof exp>['spec']>) =>
    cluster(c, {
      services: [svc('web', 'app')],
      exports: [exp('web', 'app', created, { spec })],
      slices: [slice('web', 'app', `web-${c}`, ['10.34.0.5'])],
    });

  it.each<[string, object, object, string | undefined]>([
    [
      'different labels',
      { exportedLabels: { team: 'a' } },
      { exportedLabels: { team: 'b' } },
      'LabelsConflict',
    ],
    ['labels on one export only', { exportedLabels: { team: 'a' } }, {}, 'LabelsConflict'],
    [
      'different annotations',
      { exportedAnnotations: { note: 'x' } },
      { exportedAnnotations: { note: 'y' } },
      'AnnotationsConflict',
    ],
    [
      'both',
      { exportedLabels: { team: 'a' }, exportedAnnotations: { note: 'x' } },
      { exportedLabels: { team: 'b' } },
      'LabelsConflict,AnnotationsConflict',
    ],
    [
      'the same maps in another key order',
      { exportedLabels: { a: '1', b: '2' } },
      { exportedLabels: { b: '2', a: '1' } },
      undefined,
    ],
    ['no labels on one, empty labels on the other', {}, { exportedLabels: {} }, undefined],
  ])(
    'GIVEN %s THEN the import has the oldest export’s, and every export says whether they conflict',
    (_name, older, newer, reason) => {
      const d = derive(
        [
          exporter('leaf-2', '2026-01-02T00:00:00Z', newer),
          exporter('leaf-1', '2026-01-01T00:00:00Z', older),
        ],
        opts,
      );
      const oldest = older as {
        exportedLabels?: Record<string, string>;
        exportedAnnotations?: Record<string, string>;
      };
      for (const c of ['leaf-1', 'leaf-2']) {
        const [imp] = imports(d, c);
        expect(imp?.metadata.labels).toEqual({
          ...oldest.exportedLabels,
          'app.kubernetes.io/managed-by': 'mcs-controller.kosmos.io',
        });
        expect(imp?.metadata.annotations).toEqual(
          oldest.exportedAnnotations && Object.keys(oldest.exportedAnnotations).length > 0
            ? oldest.exportedAnnotations
            : undefined,
        );
        expect(conds(d, c)['Conflict']).toMatchObject(
          reason ? { status: 'True', reason } : { status: 'False', reason: 'NoConflicts' },
        );
      }
    },
  );

  it('GIVEN different labels THEN the message names the winner and how many disagree, as the KEP example does', () => {
    const d = derive(
      [
        exporter('leaf-1', '2026-01-01T00:00:00Z', { exportedLabels: { team: 'a' } }),
        exporter('leaf-2', '2026-01-02T00:00:00Z', { exportedLabels: { team: 'b' } }),
        exporter('leaf-3', '2026-01-03T00:00:00Z', { exportedLabels: { team: 'a' } }),
      ],
      opts,
    );
    expect(conds(d, 'leaf-3')['Conflict']?.message).toBe(
      'Conflicting exported labels. Using {"team":"a"} from oldest service export in "leaf-1". 1/3 clusters disagree.',
    );
  });
});

describe('derive: a port is served only by the clusters whose Service offers it as the import defines it', () => {
  /** The conformance fixture: tcp:42 and udp:42, both to the pods' port 42. */
  const hello = [
    { name: 'tcp', protocol: 'TCP' as const, port: 42 },
    { name: 'udp', protocol: 'UDP' as const, port: 42 },
  ];
  const podPorts = (ports: { name: string; protocol: 'TCP' | 'UDP' }[]) =>
    ports.map((p) => ({ ...p, port: 42 }));
  const c1 = cluster('leaf-1', {
    services: [svc('hello', 'app', { ports: hello })],
    exports: [exp('hello', 'app', '2026-01-01T00:00:00Z')],
    slices: [slice('hello', 'app', 'hello-1', ['10.34.0.5'], podPorts(hello))],
  });
  const c2 = (ports: { name: string; protocol: 'TCP' | 'UDP'; port: number }[]) =>
    cluster('leaf-2', {
      services: [svc('hello', 'app', { ports })],
      exports: [exp('hello', 'app', '2026-01-02T00:00:00Z')],
      slices: [slice('hello', 'app', 'hello-2', ['10.36.0.9'], podPorts(ports))],
    });
  const portsOf = (d: ReturnType<typeof derive>, importer: string, source: string) =>
    slices(d, importer)
      .find((s) => s.metadata.labels?.['multicluster.kubernetes.io/source-cluster'] === source)
      ?.ports?.map((p) => `${p.name}/${p.protocol}/${p.port}`);

  it('GIVEN the same port name with another number in leaf-2 THEN the import keeps leaf-1’s, and leaf-2’s slice no longer carries that port', () => {
    const d = derive([c1, c2([{ name: 'tcp', protocol: 'TCP', port: 4242 }])], opts);
    expect(imports(d, 'leaf-2')[0]?.spec.ports).toEqual(hello);
    for (const importer of ['leaf-1', 'leaf-2']) {
      expect(portsOf(d, importer, 'leaf-1')).toEqual(['tcp/TCP/42', 'udp/UDP/42']);
      // kube-proxy sends import port "tcp" only to slices that carry "tcp": leaf-2's pods get none of it.
      expect(portsOf(d, importer, 'leaf-2')).toEqual([]);
    }
    expect(conds(d, 'leaf-2', 'hello')['Conflict']).toMatchObject({ status: 'True', reason: 'PortConflict' });
  });

  it('GIVEN another port name and number in leaf-2 THEN the union, each port only on the slices of the cluster that has it', () => {
    const d = derive([c1, c2([{ name: 'tcp2', protocol: 'TCP', port: 4242 }])], opts);
    expect(imports(d, 'leaf-1')[0]?.spec.ports.map((p) => `${p.name}/${p.port}`)).toEqual([
      'tcp/42',
      'udp/42',
      'tcp2/4242',
    ]);
    expect(portsOf(d, 'leaf-1', 'leaf-1')).toEqual(['tcp/TCP/42', 'udp/UDP/42']);
    expect(portsOf(d, 'leaf-1', 'leaf-2')).toEqual(['tcp2/TCP/42']);
  });

  it('GIVEN the same number under another name in leaf-2 THEN that port lost the merge and leaf-2 serves none of the import’s ports', () => {
    const d = derive([c1, c2([{ name: 'other', protocol: 'TCP', port: 42 }])], opts);
    expect(imports(d, 'leaf-1')[0]?.spec.ports).toEqual(hello);
    expect(portsOf(d, 'leaf-1', 'leaf-2')).toEqual([]);
  });

  it('GIVEN agreeing exporters (appProtocol aside) THEN every slice keeps its ports', () => {
    const d = derive(
      [c1, c2([...hello.slice(0, 1).map((p) => ({ ...p, appProtocol: 'kubernetes.io/h2c' })), hello[1]!])],
      opts,
    );
    expect(portsOf(d, 'leaf-1', 'leaf-2')).toEqual(['tcp/TCP/42', 'udp/UDP/42']);
  });
});

describe('derive: ServiceImport status (KEP-1645)', () => {
  it('GIVEN an import THEN its status says EndpointSlices are present, which exporters form it, and that it is Ready', () => {
    const d = derive([leaf1Exports(), cluster('leaf-2')], opts);
    expect(imports(d, 'leaf-2')[0]?.status).toMatchObject({
      endpointSliceObjects: 'Present',
      clusters: [{ cluster: 'leaf-1' }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }],
    });
  });
});
