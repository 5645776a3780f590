/**
 * The MCS decision, as a pure function of every member cluster's snapshot: which
 * ServiceImports and EndpointSlices each cluster should hold, and what each ServiceExport's
 * conditions say. The controller diffs this against what it observes and writes the
 * difference; nothing here does I/O, so every KEP rule is table-tested.
 */
import { createHash } from 'node:crypto';
import type { Condition } from '../../api/meta.js';
import {
  CONDITION_CONFLICT,
  CONDITION_READY,
  CONDITION_VALID,
  ENDPOINT_SLICE_OBJECTS_PRESENT,
  LABEL_APP_MANAGED_BY,
  LABEL_K8S_SERVICE_NAME,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  LABEL_SOURCE_CLUSTER,
  MCS_API_VERSION,
  MCS_CONTROLLER_ID,
  REASON_EXPORTED,
  REASON_INVALID_SERVICE_TYPE,
  REASON_NO_CONFLICTS,
  REASON_NO_SERVICE,
  REASON_PENDING,
  REASON_READY,
  REASON_VALID,
  type ConflictReason,
} from '../constants.js';
import type {
  Endpoint,
  EndpointSlice,
  IPFamily,
  Namespace,
  Service,
  ServiceExport,
  ServiceImport,
  ServiceImportPort,
  ServiceImportType,
} from '../types.js';
import { withTransitionTimes, type DesiredCondition } from './conditions.js';
import { allocateIps, type Cidr } from './ip.js';
import { mergePorts } from './ports.js';

/** What the controller observed in one member cluster. */
export interface ClusterSnapshot {
  name: string;
  namespaces: readonly Namespace[];
  services: readonly Service[];
  exports: readonly ServiceExport[];
  /** All EndpointSlices; derive picks the local ones of exported services and ignores its own. */
  slices: readonly EndpointSlice[];
  /** Existing ServiceImports: their VIPs are kept. */
  imports: readonly ServiceImport[];
}

export interface DeriveOptions {
  /** At most one CIDR per family; the first one's family comes first in ipFamilies. */
  clustersetCidrs: readonly Cidr[];
  /** RFC 3339 time for new condition transitions. */
  now: string;
  /**
   * Where a ClusterSetIP import's address comes from. 'service' (the default of the
   * components): a selectorless "derived" Service in every importing cluster, whose cluster
   * IP the import carries and whose endpoints are the MCS slices, so the cluster's own
   * kube-proxy (or CNI) routes the VIP to every exporter's pods. 'cidr': one VIP per import
   * from clustersetCidrs, the same in every cluster, which the clusters' service proxies do
   * not know (only DNS answers it).
   */
  ipSource?: 'service' | 'cidr';
}

export interface ExportStatus {
  namespace: string;
  name: string;
  conditions: Condition[];
}

export interface ClusterDesired {
  imports: ServiceImport[];
  slices: EndpointSlice[];
  /** Derived Services of ClusterSetIP imports (ipSource 'service'). */
  services: Service[];
  exportStatuses: ExportStatus[];
}

export type Desired = Map<string, ClusterDesired>;

interface Exporter {
  cluster: string;
  export: ServiceExport;
  service: Service;
}

const key = (ns: string, name: string) => `${ns}/${name}`;
const isLive = (o: { metadata: { deletionTimestamp?: string } }) => !o.metadata.deletionTimestamp;
const isHeadless = (s: Service) => s.spec.clusterIP === 'None';

/** Oldest export first (KEP precedence); cluster name breaks same-second ties so every replica agrees. */
function byAge(a: Exporter, b: Exporter): number {
  const ta = a.export.metadata.creationTimestamp ?? '';
  const tb = b.export.metadata.creationTimestamp ?? '';
  return ta < tb ? -1 : ta > tb ? 1 : a.cluster.localeCompare(b.cluster);
}

/** A stable DNS hostname for an endpoint: its own, else its address with dashes (as CoreDNS does). */
export function endpointHostname(ep: Endpoint): string {
  return ep.hostname ?? (ep.addresses[0] ?? '').replace(/[.:]/g, '-');
}

/**
 * The derived Service of an import: namespace-local, so a hash of the name (as the mcs-api
 * reference controller does) keeps it short, stable and out of the way of users' names.
 */
export function derivedServiceName(importName: string): string {
  return `derived-${createHash('sha256').update(importName).digest('hex').slice(0, 10)}`;
}

function derivedService(
  namespace: string,
  name: string,
  spec: ServiceImport['spec'],
  fams: IPFamily[],
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: derivedServiceName(name),
      namespace,
      labels: { [LABEL_SERVICE_NAME]: name, [LABEL_APP_MANAGED_BY]: MCS_CONTROLLER_ID },
    },
    spec: {
      type: 'ClusterIP',
      // Selectorless: its endpoints are the MCS slices labelled with its name.
      ports: spec.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        protocol: p.protocol ?? 'TCP',
        ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
        port: p.port,
      })),
      ipFamilies: fams,
      ipFamilyPolicy: fams.length > 1 ? 'PreferDualStack' : 'SingleStack',
      sessionAffinity: spec.sessionAffinity ?? 'None',
      ...(spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig
        ? { sessionAffinityConfig: spec.sessionAffinityConfig }
        : {}),
    },
  };
}

/** JSON with object keys sorted, so two equal objects compare equal whatever their key order. */
export const stableJson = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => a.localeCompare(b)))
      : val,
  );

/** What the controller sets on a derived Service (the apiserver adds defaults such as targetPort). */
const derivedBody = (s: Service) =>
  stableJson({
    p: (s.spec.ports ?? []).map((p) => [p.name ?? '', p.protocol ?? 'TCP', p.port, p.appProtocol ?? '']),
    a: s.spec.sessionAffinity ?? 'None',
    c: s.spec.sessionAffinity === 'ClientIP' ? (s.spec.sessionAffinityConfig ?? null) : null,
    f: s.spec.ipFamilies ?? [],
    l: s.metadata.labels ?? {},
  });

/**
 * How a derived Service in a cluster becomes the desired one: left alone, applied, or (when
 * its primary IP family must change, which Kubernetes refuses in place) deleted so the next
 * pass creates it anew.
 */
export function derivedServiceAction(
  have: Service | undefined,
  want: Service,
): 'keep' | 'apply' | 'recreate' {
  if (!have) return 'apply';
  if (derivedBody(have) === derivedBody(want)) return 'keep';
  const primary = (s: Service) => s.spec.ipFamilies?.[0];
  return primary(have) && primary(want) && primary(have) !== primary(want) ? 'recreate' : 'apply';
}

/** The cluster IPs the apiserver gave a derived Service (none until it exists). */
function allocatedIps(c: ClusterSnapshot, namespace: string, name: string, fams: IPFamily[]): string[] {
  const svc = c.services.find(
    (s) =>
      s.metadata.namespace === namespace &&
      s.metadata.name === derivedServiceName(name) &&
      s.metadata.labels?.[LABEL_APP_MANAGED_BY] === MCS_CONTROLLER_ID &&
      isLive(s),
  );
  const ips = svc?.spec.clusterIPs ?? (svc?.spec.clusterIP ? [svc.spec.clusterIP] : []);
  return ips.filter((ip) => ip !== 'None' && fams.includes(ip.includes(':') ? 'IPv6' : 'IPv4'));
}

export function derivedSliceName(sourceSlice: string, cluster: string): string {
  return `${sourceSlice}-${cluster}`.slice(0, 253).replace(/[-.]+$/, '');
}

interface Validity {
  valid: boolean;
  conditions: DesiredCondition[];
}

function validity(exp: ServiceExport, service: Service | undefined): Validity {
  const gen = exp.metadata.generation;
  const og = gen !== undefined ? { observedGeneration: gen } : {};
  if (!service) {
    return {
      valid: false,
      conditions: [
        {
          type: CONDITION_VALID,
          status: 'False',
          reason: REASON_NO_SERVICE,
          message: `Service ${exp.metadata.name} does not exist`,
          ...og,
        },
        {
          type: CONDITION_READY,
          status: 'False',
          reason: REASON_PENDING,
          message: 'The export waits for its Service',
          ...og,
        },
      ],
    };
  }
  if (service.spec.type === 'ExternalName') {
    return {
      valid: false,
      conditions: [
        {
          type: CONDITION_VALID,
          status: 'False',
          reason: REASON_INVALID_SERVICE_TYPE,
          message: 'Services of type ExternalName cannot be exported',
          ...og,
        },
        {
          type: CONDITION_READY,
          status: 'False',
          reason: REASON_PENDING,
          message: 'The Service cannot be exported',
          ...og,
        },
      ],
    };
  }
  return {
    valid: true,
    conditions: [
      {
        type: CONDITION_VALID,
        status: 'True',
        reason: REASON_VALID,
        message: 'The Service is exportable',
        ...og,
      },
    ],
  };
}

interface Resolution {
  spec: ServiceImport['spec'];
  conflicts: { reason: ConflictReason; message: string }[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Oldest-wins resolution of every global property; disagreements become conflict reasons. */
function resolve(exporters: readonly Exporter[]): Resolution {
  const oldest = exporters[0]!;
  const total = exporters.length;
  const conflicts: Resolution['conflicts'] = [];
  const check = (
    reason: ConflictReason,
    what: string,
    value: (e: Exporter) => unknown,
    shown: (e: Exporter) => string,
  ) => {
    const want = JSON.stringify(value(oldest) ?? null);
    const disagree = exporters.filter((e) => JSON.stringify(value(e) ?? null) !== want).length;
    if (disagree > 0) {
      conflicts.push({
        reason,
        message: `Conflicting ${what}. Using ${shown(oldest)} from oldest service export in "${oldest.cluster}". ${disagree}/${total} clusters disagree.`,
      });
    }
  };
  const type = (e: Exporter): ServiceImportType => (isHeadless(e.service) ? 'Headless' : 'ClusterSetIP');
  const affinity = (e: Exporter) => e.service.spec.sessionAffinity ?? 'None';
  const affinityConfig = (e: Exporter) =>
    affinity(e) === 'ClientIP' ? (e.service.spec.sessionAffinityConfig ?? null) : null;
  const ports = mergePorts(exporters.map((e) => e.service.spec.ports ?? []));
  if (ports.conflict) {
    conflicts.push({
      reason: 'PortConflict',
      message: `Conflicting ports. Using the union of ports, the oldest service export in "${oldest.cluster}" first on name or number clashes.`,
    });
  }
  check('TypeConflict', 'type', type, (e) => `"${type(e)}"`);
  check('SessionAffinityConflict', 'session affinity', affinity, (e) => `"${affinity(e)}"`);
  check('SessionAffinityConfigConflict', 'session affinity config', affinityConfig, (e) =>
    JSON.stringify(affinityConfig(e)),
  );
  check(
    'InternalTrafficPolicyConflict',
    'internal traffic policy',
    (e) => e.service.spec.internalTrafficPolicy,
    (e) => `"${e.service.spec.internalTrafficPolicy ?? ''}"`,
  );
  check(
    'TrafficDistributionConflict',
    'traffic distribution',
    (e) => e.service.spec.trafficDistribution,
    (e) => `"${e.service.spec.trafficDistribution ?? ''}"`,
  );
  // Exported metadata of one export, key order aside; unset and empty agree.
  const labels = (e: Exporter) => stableJson(e.export.spec?.exportedLabels ?? {});
  const annotations = (e: Exporter) => stableJson(e.export.spec?.exportedAnnotations ?? {});
  check('LabelsConflict', 'exported labels', labels, labels);
  check('AnnotationsConflict', 'exported annotations', annotations, annotations);
  const s = oldest.service.spec;
  const spec: ServiceImport['spec'] = {
    type: type(oldest),
    ports: ports.ports,
    sessionAffinity: affinity(oldest),
    ...(affinity(oldest) === 'ClientIP' && s.sessionAffinityConfig
      ? { sessionAffinityConfig: s.sessionAffinityConfig }
      : {}),
    ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
    ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
  };
  return {
    spec,
    conflicts,
    labels: oldest.export.spec?.exportedLabels ?? {},
    annotations: oldest.export.spec?.exportedAnnotations ?? {},
  };
}

/** The exported Service's families, limited to those with a clusterset CIDR, in the Service's order. */
function families(service: Service, cidrs: readonly Cidr[]): IPFamily[] {
  const configured = cidrs.map((c) => c.family);
  const wanted = (service.spec.ipFamilies ?? ['IPv4']).filter((f) => configured.includes(f));
  return wanted.length > 0 ? wanted : configured.slice(0, 1);
}

const portName = (p: { name?: string }) => p.name ?? '';

/**
 * The import ports an exporter's Service really offers: same name, protocol and number as
 * the import's (merged, oldest first) definition. A port the exporter names the same but
 * numbers differently lost the merge, and so did one it numbers the same under another name.
 */
export function portsServedBy(service: Service, importPorts: readonly ServiceImportPort[]): Set<string> {
  const served = new Set<string>();
  for (const ip of importPorts) {
    const own = (service.spec.ports ?? []).find((p) => portName(p) === portName(ip));
    if (own && (own.protocol ?? 'TCP') === (ip.protocol ?? 'TCP') && own.port === ip.port)
      served.add(`${portName(ip)}/${ip.protocol ?? 'TCP'}`);
  }
  return served;
}

/**
 * A source slice as an importing cluster gets it. Its ports are only those the source
 * cluster's Service offers as the import defines them (portsServedBy): kube-proxy sends an
 * import port to every slice that carries its name, so a slice keeping a port that lost the
 * merge would draw that port's traffic to pods that listen for something else (KEP-1645:
 * traffic goes "only to endpoints from constituent services that actually expose the port").
 */
function deriveSlice(
  source: EndpointSlice,
  sourceCluster: string,
  service: string,
  namespace: string,
  served: ReadonlySet<string>,
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: derivedSliceName(source.metadata.name ?? '', sourceCluster),
      namespace,
      labels: {
        [LABEL_SERVICE_NAME]: service,
        [LABEL_SOURCE_CLUSTER]: sourceCluster,
        [LABEL_MANAGED_BY]: MCS_CONTROLLER_ID,
      },
    },
    addressType: source.addressType,
    // nodeName and targetRef name objects of the source cluster, meaningless where the slice lands.
    endpoints: (source.endpoints ?? []).map((ep) => ({
      addresses: ep.addresses,
      ...(ep.conditions ? { conditions: ep.conditions } : {}),
      hostname: endpointHostname(ep),
      ...(ep.zone ? { zone: ep.zone } : {}),
    })),
    ports: (source.ports ?? []).filter((p) => served.has(`${portName(p)}/${p.protocol ?? 'TCP'}`)),
  };
}

export function derive(clusters: readonly ClusterSnapshot[], options: DeriveOptions): Desired {
  const desired: Desired = new Map(
    clusters.map((c) => [c.name, { imports: [], slices: [], services: [], exportStatuses: [] }]),
  );
  const exporters = new Map<string, Exporter[]>();
  const statusOf = new Map<string, { cluster: string; exp: ServiceExport; conditions: DesiredCondition[] }>();

  for (const c of clusters) {
    const services = new Map(
      c.services.map((s) => [key(s.metadata.namespace ?? '', s.metadata.name ?? ''), s]),
    );
    for (const exp of c.exports.filter(isLive)) {
      const k = key(exp.metadata.namespace ?? '', exp.metadata.name ?? '');
      const service = services.get(k);
      const v = validity(exp, service && isLive(service) ? service : undefined);
      statusOf.set(`${c.name}|${k}`, { cluster: c.name, exp, conditions: v.conditions });
      if (v.valid && service) {
        const list = exporters.get(k) ?? [];
        list.push({ cluster: c.name, export: exp, service });
        exporters.set(k, list);
      }
    }
  }

  const clusterSetKeys = [...exporters]
    .filter(([, es]) => !isHeadless([...es].sort(byAge)[0]!.service))
    .map(([k]) => k);
  const vipsByFamily = new Map<IPFamily, Map<string, string>>();
  for (const cidr of options.ipSource === 'service' ? [] : options.clustersetCidrs) {
    const current = new Map<string, string[]>();
    for (const c of clusters) {
      for (const imp of c.imports) {
        const k = key(imp.metadata.namespace ?? '', imp.metadata.name ?? '');
        current.set(k, [...(current.get(k) ?? []), ...(imp.spec.ips ?? [])]);
      }
    }
    vipsByFamily.set(cidr.family, allocateIps(cidr, clusterSetKeys, current));
  }

  for (const [k, list] of [...exporters].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort(byAge);
    const [namespace = '', name = ''] = k.split('/');
    const r = resolve(list);
    const byService = options.ipSource === 'service' && r.spec.type === 'ClusterSetIP';
    const fams = byService
      ? (list[0]!.service.spec.ipFamilies ?? ['IPv4'])
      : families(list[0]!.service, options.clustersetCidrs);
    const spec: ServiceImport['spec'] =
      r.spec.type === 'ClusterSetIP'
        ? {
            ...r.spec,
            ipFamilies: fams,
            ips: fams.map((f) => vipsByFamily.get(f)?.get(k)).filter((ip): ip is string => !!ip),
          }
        : { ...r.spec, ipFamilies: list[0]!.service.spec.ipFamilies ?? fams };
    const conflict: DesiredCondition =
      r.conflicts.length > 0
        ? {
            type: CONDITION_CONFLICT,
            status: 'True',
            reason: r.conflicts.map((c) => c.reason).join(','),
            message: r.conflicts.map((c) => c.message).join('\n'),
          }
        : {
            type: CONDITION_CONFLICT,
            status: 'False',
            reason: REASON_NO_CONFLICTS,
            message: 'All exports agree',
          };
    for (const e of list) {
      const st = statusOf.get(`${e.cluster}|${k}`)!;
      const og =
        e.export.metadata.generation !== undefined
          ? { observedGeneration: e.export.metadata.generation }
          : {};
      st.conditions.push(
        {
          type: CONDITION_READY,
          status: 'True',
          reason: REASON_EXPORTED,
          message: 'The Service is exported to the clusterset',
          ...og,
        },
        { ...conflict, ...og },
      );
    }
    const sourceSlices = list.flatMap((e) => {
      const snap = clusters.find((c) => c.name === e.cluster)!;
      const served = portsServedBy(e.service, r.spec.ports);
      return snap.slices
        .filter(
          (s) =>
            s.metadata.namespace === namespace &&
            s.metadata.labels?.[LABEL_K8S_SERVICE_NAME] === name &&
            s.metadata.labels?.[LABEL_MANAGED_BY] !== MCS_CONTROLLER_ID &&
            s.metadata.labels?.[LABEL_SOURCE_CLUSTER] === undefined &&
            isLive(s),
        )
        .map((s) => deriveSlice(s, e.cluster, name, namespace, served));
    });
    for (const c of clusters) {
      if (!c.namespaces.some((n) => n.metadata.name === namespace && isLive(n))) continue;
      const out = desired.get(c.name)!;
      let localSpec = spec;
      if (byService) {
        out.services.push(derivedService(namespace, name, spec, fams));
        // The import appears once the apiserver has given its derived Service an IP: a
        // ClusterSetIP import without one would be a name nothing can connect to.
        const ips = allocatedIps(c, namespace, name, fams);
        if (ips.length === 0) continue;
        localSpec = { ...spec, ips };
      }
      out.imports.push({
        apiVersion: MCS_API_VERSION,
        kind: 'ServiceImport',
        metadata: {
          name,
          namespace,
          labels: { ...r.labels, [LABEL_APP_MANAGED_BY]: MCS_CONTROLLER_ID },
          ...(Object.keys(r.annotations).length > 0 ? { annotations: r.annotations } : {}),
        },
        spec: localSpec,
        status: {
          endpointSliceObjects: ENDPOINT_SLICE_OBJECTS_PRESENT,
          clusters: list
            .map((e) => ({ cluster: e.cluster }))
            .sort((a, b) => a.cluster.localeCompare(b.cluster)),
          conditions: withTransitionTimes(
            [
              {
                type: CONDITION_READY,
                status: 'True',
                reason: REASON_READY,
                message: `Imported from ${list.length} cluster(s)`,
              },
            ],
            c.imports.find((i) => i.metadata.namespace === namespace && i.metadata.name === name)?.status
              ?.conditions,
            options.now,
          ),
        },
      });
      out.slices.push(
        ...sourceSlices.map((s) => ({
          ...s,
          metadata: {
            ...s.metadata,
            // kube-proxy serves a Service from the slices carrying its name.
            ...(byService
              ? { labels: { ...s.metadata.labels, [LABEL_K8S_SERVICE_NAME]: derivedServiceName(name) } }
              : {}),
          },
        })),
      );
    }
  }

  for (const st of statusOf.values()) {
    desired.get(st.cluster)!.exportStatuses.push({
      namespace: st.exp.metadata.namespace ?? '',
      name: st.exp.metadata.name ?? '',
      conditions: withTransitionTimes(st.conditions, st.exp.status?.conditions, options.now),
    });
  }
  return desired;
}
