import { describe, expect, it } from 'vitest';
import { buildIndex } from '../../../src/mcs/dns/index-builder.js';
import { createResolver } from '../../../src/mcs/dns/resolver.js';
import type { EndpointSlice, ServiceImport } from '../../../src/mcs/types.js';

const imp = (name: string, spec: Partial<ServiceImport['spec']>): ServiceImport => ({
  metadata: { name, namespace: 'app' },
  spec: { type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ...spec },
});
const mcsSlice = (
  svc: string,
  cluster: string,
  eps: { ip: string; ready?: boolean; hostname?: string }[],
  family: 'IPv4' | 'IPv6' = 'IPv4',
): EndpointSlice => ({
  metadata: {
    name: `${svc}-${cluster}`,
    namespace: 'app',
    labels: {
      'multicluster.kubernetes.io/service-name': svc,
      'multicluster.kubernetes.io/source-cluster': cluster,
    },
  },
  addressType: family,
  endpoints: eps.map((e) => ({
    addresses: [e.ip],
    ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    ...(e.hostname ? { hostname: e.hostname } : {}),
  })),
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
});

const index = buildIndex(
  [
    imp('web', {
      ips: ['172.31.0.9', 'fd00::9'],
      ports: [
        { name: 'http', protocol: 'TCP', port: 80 },
        { name: 'dup', protocol: 'UDP', port: 80 },
        { protocol: 'TCP', port: 81 },
      ],
    }),
    imp('db', { type: 'Headless' }),
    imp('empty', { type: 'Headless' }),
  ],
  [
    mcsSlice('db', 'leaf-1', [
      { ip: '10.34.0.5' },
      { ip: '10.34.0.6', ready: false },
      { ip: '10.34.0.7', hostname: 'db-0' },
    ]),
    mcsSlice('db', 'leaf-2', [{ ip: '10.36.0.5', ready: true }]),
    mcsSlice('empty', 'leaf-1', [{ ip: '10.34.9.9', ready: false }]),
  ],
);
const resolve = createResolver({ ttl: 5 });
const ask = (name: string, type: string) => resolve(index, { name, type }, 42);
const data = (a: ReturnType<typeof ask>) =>
  a.answers.map((r) =>
    'address' in r
      ? r.address
      : 'target' in r
        ? `${r.port} ${r.target}`
        : 'data' in r
          ? r.data.join()
          : r.type,
  );

describe('clusterset.local DNS answers', () => {
  it.each([
    ['web.app.svc.clusterset.local.', 'A', ['172.31.0.9']],
    ['WEB.App.svc.ClusterSet.Local', 'A', ['172.31.0.9']],
    ['web.app.svc.clusterset.local', 'AAAA', ['fd00::9']],
    ['web.app.svc.clusterset.local', 'SRV', ['80 web.app.svc.clusterset.local']],
    ['_http._tcp.web.app.svc.clusterset.local', 'SRV', ['80 web.app.svc.clusterset.local']],
    ['db.app.svc.clusterset.local', 'A', ['10.34.0.5', '10.34.0.7', '10.36.0.5']],
    [
      'db.app.svc.clusterset.local',
      'SRV',
      [
        '8080 10-34-0-5.leaf-1.db.app.svc.clusterset.local',
        '8080 db-0.leaf-1.db.app.svc.clusterset.local',
        '8080 10-36-0-5.leaf-2.db.app.svc.clusterset.local',
      ],
    ],
    ['db-0.leaf-1.db.app.svc.clusterset.local', 'A', ['10.34.0.7']],
    ['dns-version.clusterset.local', 'TXT', ['1.0.0']],
  ])('%s %s answers %j', (name, type, want) => {
    const a = ask(name, type);
    expect(a.rcode).toBe('NOERROR');
    expect(a.authoritative).toBe(true);
    expect(data(a)).toEqual(want);
    for (const r of a.answers) expect(r.ttl).toBe(5);
  });

  it('GIVEN a headless import whose port one cluster does not offer THEN SRV names only the endpoints that have it, A names all', () => {
    const partial = buildIndex(
      [imp('db', { type: 'Headless' })],
      [
        mcsSlice('db', 'leaf-1', [{ ip: '10.34.0.5' }]),
        // The controller left the port off: leaf-2's Service numbers "http" differently.
        { ...mcsSlice('db', 'leaf-2', [{ ip: '10.36.0.5' }]), ports: [] },
      ],
    );
    const q = (type: string) => data(resolve(partial, { name: 'db.app.svc.clusterset.local', type }, 42));
    expect(q('SRV')).toEqual(['8080 10-34-0-5.leaf-1.db.app.svc.clusterset.local']);
    expect(q('A')).toEqual(['10.34.0.5', '10.36.0.5']);
  });

  it('the answer echoes the name as asked, so clients match it', () => {
    expect(ask('WEB.app.svc.clusterset.local', 'A').answers[0]?.name).toBe('WEB.app.svc.clusterset.local');
  });

  it.each([
    ['an unknown service', 'nope.app.svc.clusterset.local', 'A'],
    ['a namespace without imports', 'web.other.svc.clusterset.local', 'A'],
    ['the reserved <clusterid>.<svc> name', 'leaf-1.db.app.svc.clusterset.local', 'A'],
    ['an unknown endpoint hostname', 'db-9.leaf-1.db.app.svc.clusterset.local', 'A'],
    ['a port that does not exist', '_grpc._tcp.web.app.svc.clusterset.local', 'SRV'],
    ['a headless service without ready endpoints', 'empty.app.svc.clusterset.local', 'A'],
    ['a name outside svc', 'web.app.pod.clusterset.local', 'A'],
  ])('%s is NXDOMAIN with the zone SOA', (_what, name, type) => {
    const a = ask(name, type);
    expect(a.rcode).toBe('NXDOMAIN');
    expect(a.authority).toMatchObject([{ type: 'SOA', name: 'clusterset.local', serial: 42, minimum: 5 }]);
  });

  it.each([
    ['the zone apex', 'clusterset.local', 'A'],
    ['svc.<zone>', 'svc.clusterset.local', 'A'],
    ['a known namespace', 'app.svc.clusterset.local', 'A'],
    ['another type on a service', 'web.app.svc.clusterset.local', 'TXT'],
  ])('%s has no data (NOERROR, empty, SOA)', (_what, name, type) => {
    const a = ask(name, type);
    expect([a.rcode, a.answers, a.authority.map((r) => r.type)]).toEqual(['NOERROR', [], ['SOA']]);
  });

  it('a name outside clusterset.local is refused, and nothing is answered before the caches synced', () => {
    expect(ask('example.com', 'A').rcode).toBe('REFUSED');
    expect(resolve(undefined, { name: 'web.app.svc.clusterset.local', type: 'A' }).rcode).toBe('SERVFAIL');
  });

  it('the zone apex answers its SOA', () => {
    expect(ask('clusterset.local', 'SOA').answers.map((r) => r.type)).toEqual(['SOA']);
  });
});
