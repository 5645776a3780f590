/**
 * The clusterset.local answers of the Multi-Cluster Services DNS specification (schema 1.0.0),
 * as a pure function from a question and the import index to a response. The negative-answer
 * rules follow CoreDNS's kubernetes/multicluster plugins so clients see the same behaviour:
 * NXDOMAIN for unknown names, NODATA for known names without records of the asked type, both
 * authoritative with an SOA; SERVFAIL until the caches are synced; REFUSED outside the zone.
 */
import { CLUSTERSET_ZONE, DEFAULT_DNS_TTL, DNS_SCHEMA_VERSION } from '../constants.js';
import type { ImportIndex, IndexedEndpoint, IndexedService } from './index-builder.js';
import { indexKey } from './index-builder.js';

export type RecordType = 'A' | 'AAAA' | 'SRV' | 'TXT' | 'SOA';
export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';

export type DnsRecord =
  | { name: string; type: 'A' | 'AAAA'; ttl: number; address: string }
  | { name: string; type: 'SRV'; ttl: number; priority: number; weight: number; port: number; target: string }
  | { name: string; type: 'TXT'; ttl: number; data: string[] }
  | {
      name: string;
      type: 'SOA';
      ttl: number;
      primary: string;
      admin: string;
      serial: number;
      refresh: number;
      retry: number;
      expiration: number;
      minimum: number;
    };

export interface DnsAnswer {
  rcode: Rcode;
  authoritative: boolean;
  answers: DnsRecord[];
  authority: DnsRecord[];
}

export interface ResolverOptions {
  zone?: string;
  ttl?: number;
  /** SOA serial: changes when the index does, so secondaries/caches can notice. */
  serial?: number;
}

export interface Question {
  name: string;
  /** The numeric QTYPE or its name. */
  type: RecordType | string;
}

/** Names as labels, lower-cased, without the root's empty label. */
function labels(name: string): string[] {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed === '' ? [] : trimmed.toLowerCase().split('.');
}

export function createResolver(options: ResolverOptions = {}) {
  const zone = (options.zone ?? CLUSTERSET_ZONE).toLowerCase().replace(/\.$/, '');
  const zoneLabels = zone.split('.');
  const ttl = options.ttl ?? DEFAULT_DNS_TTL;

  const soa = (serial: number): DnsRecord => ({
    name: zone,
    type: 'SOA',
    ttl: Math.min(ttl, 300),
    primary: `ns.dns.${zone}`,
    admin: `hostmaster.${zone}`,
    serial,
    refresh: 7200,
    retry: 1800,
    expiration: 86400,
    minimum: ttl,
  });

  return function resolve(
    index: ImportIndex | undefined,
    q: Question,
    serial = options.serial ?? 1,
  ): DnsAnswer {
    const ok = (answers: DnsRecord[]): DnsAnswer =>
      answers.length > 0
        ? { rcode: 'NOERROR', authoritative: true, answers, authority: [] }
        : { rcode: 'NOERROR', authoritative: true, answers: [], authority: [soa(serial)] };
    const nx = (): DnsAnswer => ({
      rcode: 'NXDOMAIN',
      authoritative: true,
      answers: [],
      authority: [soa(serial)],
    });

    const all = labels(q.name);
    const n = all.length - zoneLabels.length;
    if (n < 0 || all.slice(n).join('.') !== zone)
      return { rcode: 'REFUSED', authoritative: false, answers: [], authority: [] };
    if (!index) return { rcode: 'SERVFAIL', authoritative: false, answers: [], authority: [] };
    const rel = all.slice(0, n); // labels left of the zone, leftmost first
    const name = q.name.endsWith('.') ? q.name.slice(0, -1) : q.name;
    const type = q.type;

    if (rel.length === 0) return ok(type === 'SOA' ? [soa(serial)] : []);
    if (rel.length === 1 && rel[0] === 'dns-version') {
      return ok(type === 'TXT' ? [{ name, type: 'TXT', ttl, data: [DNS_SCHEMA_VERSION] }] : []);
    }
    // Everything else lives under svc.<zone>: [..., svc, ns, 'svc'].
    if (rel[rel.length - 1] !== 'svc') return nx();
    if (rel.length === 1) return ok([]);
    const ns = rel[rel.length - 2]!;
    if (!index.namespaces.has(ns)) return nx();
    if (rel.length === 2) return ok([]);
    const svc = index.services.get(indexKey(rel[rel.length - 3]!, ns));
    if (!svc) return nx();
    const fqdn = `${svc.name}.${svc.namespace}.svc.${zone}`.toLowerCase();
    const extra = rel.slice(0, rel.length - 3);

    if (extra.length === 0) return serviceName(svc, fqdn, name, type);
    if (extra.length === 2 && extra[0]!.startsWith('_') && extra[1]!.startsWith('_')) {
      return srvFor(svc, fqdn, name, type, extra[0]!.slice(1), extra[1]!.slice(1));
    }
    if (extra.length === 2 && svc.type === 'Headless') {
      // <hostname>.<clusterid>.<svc>...; <clusterid>.<svc>... alone is reserved and must not exist.
      const eps = svc.endpoints.filter((e) => e.hostname === extra[0] && e.cluster === extra[1]);
      if (eps.length === 0) return nx();
      return ok(addressRecords(eps, name, type));
    }
    return nx();

    function serviceName(s: IndexedService, fq: string, qname: string, qtype: string): DnsAnswer {
      if (s.type === 'ClusterSetIP') {
        if (qtype === 'A' || qtype === 'AAAA') {
          const want = qtype === 'A' ? 4 : 6;
          return ok(
            s.ips
              .filter((ip) => (ip.includes(':') ? 6 : 4) === want)
              .map((address) => ({ name: qname, type: qtype, ttl, address })),
          );
        }
        if (qtype === 'SRV') return ok(clusterSetSrv(s, fq, qname, () => true));
        return ok([]);
      }
      const ready = uniqueReady(s.endpoints);
      if (ready.length === 0) return nx();
      if (qtype === 'A' || qtype === 'AAAA') return ok(addressRecords(ready, qname, qtype));
      if (qtype === 'SRV') return ok(headlessSrv(s, fq, qname, () => true));
      return ok([]);
    }

    function srvFor(
      s: IndexedService,
      fq: string,
      qname: string,
      qtype: string,
      port: string,
      proto: string,
    ): DnsAnswer {
      const match = (p: { name?: string; protocol?: string }) =>
        (p.name ?? '').toLowerCase() === port && (p.protocol ?? 'TCP').toLowerCase() === proto;
      const exists = s.ports.some(match);
      if (!exists) return nx();
      if (qtype !== 'SRV') return ok([]);
      return ok(
        s.type === 'ClusterSetIP' ? clusterSetSrv(s, fq, qname, match) : headlessSrv(s, fq, qname, match),
      );
    }
  };

  function addressRecords(eps: readonly IndexedEndpoint[], name: string, type: string): DnsRecord[] {
    if (type !== 'A' && type !== 'AAAA') return [];
    const want = type === 'A' ? 4 : 6;
    return eps.filter((e) => e.family === want).map((e) => ({ name, type, ttl, address: e.address }));
  }

  function uniqueReady(eps: readonly IndexedEndpoint[]): IndexedEndpoint[] {
    const seen = new Set<string>();
    return eps.filter((e) => e.ready && !seen.has(e.address) && seen.add(e.address));
  }

  /** One record per named port, de-duplicated by (target, port) as CoreDNS does. */
  function clusterSetSrv(
    s: IndexedService,
    fqdn: string,
    name: string,
    match: (p: { name?: string; protocol?: string }) => boolean,
  ): DnsRecord[] {
    const seen = new Set<number>();
    const out: DnsRecord[] = [];
    for (const p of s.ports) {
      if (!p.name || !match(p) || seen.has(p.port)) continue;
      seen.add(p.port);
      out.push({ name, type: 'SRV', ttl, priority: 0, weight: 100, port: p.port, target: fqdn });
    }
    return out;
  }

  /**
   * N ready endpoints × M named ports of the import, each endpoint's own port number; an
   * endpoint whose slice does not carry a port (its cluster does not offer it) gets none for it.
   */
  function headlessSrv(
    s: IndexedService,
    fqdn: string,
    name: string,
    match: (p: { name?: string; protocol?: string }) => boolean,
  ): DnsRecord[] {
    const out: DnsRecord[] = [];
    const seen = new Set<string>();
    for (const e of uniqueReady(s.endpoints)) {
      for (const p of s.ports) {
        if (!p.name || !match(p)) continue;
        const epPort = e.ports.find((x) => x.name === p.name && x.protocol === (p.protocol ?? 'TCP'))?.port;
        if (epPort === undefined) continue;
        const target = `${e.hostname}.${e.cluster}.${fqdn}`;
        const k = `${target}|${epPort}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ name, type: 'SRV', ttl, priority: 0, weight: 100, port: epPort, target });
      }
    }
    return out;
  }
}

export type Resolve = ReturnType<typeof createResolver>;
