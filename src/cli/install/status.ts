/**
 * `kosmosctl status`: what an operator asks first. Gathering (I/O) is separate from the
 * summary (pure, table-tested), so the tables can be checked without a cluster.
 */
import { ANNOTATION_OWNED_BY_CLUSTER, API_VERSION, LABEL_NODE, ROLE_GATEWAY } from '../../api/constants.js';
import type { Cluster, ClusterNode } from '../../api/kinds.js';
import type { KubeObject } from '../../api/meta.js';
import type { KubeClient } from '../../common/kube.js';
import { certFacts } from '../../webhooks/certificates.js';
import { workloadReadiness } from './apply.js';
import { WEBHOOK_CERT_SECRET } from './values.js';

export interface NodeLike extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

export interface StatusInput {
  clusters: Cluster[];
  virtualNodes: NodeLike[];
  clusterNodes: ClusterNode[];
  workloads: KubeObject[];
  /** Queue name → waiting+active+delayed jobs; undefined when Redis was not reachable. */
  queues?: Record<string, number>;
  queueError?: string;
  webhookCertNotAfter?: Date;
  webhookCaNotAfter?: Date;
  now: Date;
}

export interface StatusTables {
  clusters: string[][];
  components: string[][];
  queues: string[][];
  certificates: string[][];
  healthy: boolean;
}

export const CLUSTER_HEADERS = [
  'CLUSTER',
  'MODES',
  'LEAF MODEL',
  'NETWORK',
  'VIRTUAL NODES',
  'READY',
  'GATEWAY',
  'CLUSTERNODES',
];
export const COMPONENT_HEADERS = ['COMPONENT', 'KIND', 'READY'];
export const QUEUE_HEADERS = ['QUEUE', 'DEPTH'];
export const CERT_HEADERS = ['CERTIFICATE', 'EXPIRES', 'IN'];

function leafModelOf(c: Cluster): string {
  const models = c.spec?.clusterTreeOptions?.leafModels;
  if (!models || models.length === 0 || !models[0]?.nodeSelector) return 'one2cluster';
  return models[0].nodeSelector.labelSelector ? 'one2party' : 'one2one';
}

const ready = (n: NodeLike) =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function days(ms: number): string {
  const d = Math.floor(ms / 86_400_000);
  return ms < 0 ? 'expired' : d > 0 ? `${d}d` : `${Math.floor(ms / 3_600_000)}h`;
}

export function summarize(s: StatusInput): StatusTables {
  let healthy = true;
  const clusters = s.clusters.map((c) => {
    const name = c.metadata?.name ?? '';
    const tree = c.spec?.clusterTreeOptions?.enable !== false;
    const link = c.spec?.clusterLinkOptions?.enable !== false && c.spec?.clusterLinkOptions !== undefined;
    const vn = s.virtualNodes.filter((n) => n.metadata?.annotations?.[ANNOTATION_OWNED_BY_CLUSTER] === name);
    const vnReady = vn.filter(ready).length;
    const cn = s.clusterNodes.filter((n) => n.spec?.clusterName === name);
    const gateways = cn
      .filter((n) => (n.spec?.roles ?? []).some((r) => r.toLowerCase() === ROLE_GATEWAY))
      .map((n) => n.spec?.nodeName ?? n.metadata?.name ?? '');
    const network = link ? (c.spec?.clusterLinkOptions?.networkType ?? 'p2p') : '-';
    if (tree && (vn.length === 0 || vnReady < vn.length)) healthy = false;
    return [
      name,
      [tree && 'tree', link && 'link'].filter(Boolean).join('+') || '-',
      tree ? leafModelOf(c) : '-',
      network,
      tree ? String(vn.length) : '-',
      tree ? `${vnReady}/${vn.length}` : '-',
      network === 'gateway' ? gateways.join(',') || 'none' : '-',
      link ? String(cn.length) : '-',
    ];
  });
  const components = s.workloads.map((w) => {
    const r = workloadReadiness(w.kind ?? '', w as Parameters<typeof workloadReadiness>[1]);
    if (!r.ready) healthy = false;
    return [w.metadata?.name ?? '', w.kind ?? '', r.text];
  });
  const queues = s.queues
    ? Object.entries(s.queues)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([q, n]) => [q, String(n)])
    : [['(redis not reachable)', s.queueError ?? '']];
  const certificates: string[][] = [];
  for (const [label, at] of [
    ['webhook serving', s.webhookCertNotAfter],
    ['webhook CA', s.webhookCaNotAfter],
  ] as const) {
    if (!at) continue;
    const left = at.getTime() - s.now.getTime();
    if (left < 7 * 86_400_000) healthy = false;
    certificates.push([label, at.toISOString(), days(left)]);
  }
  return { clusters, components, queues, certificates, healthy };
}

async function listOr<T extends KubeObject>(p: Promise<{ items: T[] }>): Promise<T[]> {
  try {
    return (await p).items;
  } catch {
    return []; // CRDs not installed: nothing to show
  }
}

/** BullMQ keeps a queue's waiting jobs in `<prefix>:<queue>:wait`, its running ones in `:active`. */
export async function queueDepths(redisUrl: string, timeoutMs = 3000): Promise<Record<string, number>> {
  const { createRedis } = await import('../../common/redis.js');
  // Connection errors are reported through the failed connect below.
  const redis = createRedis(redisUrl, 'probe', { connectTimeoutMs: timeoutMs });
  try {
    await redis.connect();
    const out: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', '*:meta', 'COUNT', 1000);
      cursor = next;
      for (const meta of keys) {
        const base = meta.slice(0, -':meta'.length);
        const [wait, active, delayed, prioritized] = await Promise.all([
          redis.llen(`${base}:wait`),
          redis.llen(`${base}:active`),
          redis.zcard(`${base}:delayed`),
          redis.zcard(`${base}:prioritized`),
        ]);
        out[base] = wait + active + delayed + prioritized;
      }
    } while (cursor !== '0');
    return out;
  } finally {
    redis.disconnect();
  }
}

export async function gatherStatus(
  host: KubeClient,
  o: { namespace: string; redisUrl?: string; now?: Date },
): Promise<StatusInput> {
  const [clusters, virtualNodes, clusterNodes, deployments, daemonSets] = await Promise.all([
    listOr(host.list<Cluster>(API_VERSION, 'Cluster')),
    listOr(host.list<NodeLike>('v1', 'Node', { labelSelector: LABEL_NODE })),
    listOr(host.list<ClusterNode>(API_VERSION, 'ClusterNode')),
    listOr(host.list<KubeObject>('apps/v1', 'Deployment', { namespace: o.namespace })),
    listOr(host.list<KubeObject>('apps/v1', 'DaemonSet', { namespace: o.namespace })),
  ]);
  const input: StatusInput = {
    clusters: clusters.filter((c) => c.metadata?.annotations?.['kosmos.io/cluster-role'] !== 'root'),
    virtualNodes,
    clusterNodes,
    // List items carry no kind; readiness differs between the two.
    workloads: [
      ...deployments.map((d) => ({ ...d, kind: 'Deployment' })),
      ...daemonSets.map((d) => ({ ...d, kind: 'DaemonSet' })),
    ],
    now: o.now ?? new Date(),
  };
  let redisUrl = o.redisUrl;
  if (!redisUrl) {
    const s = await host.getOrUndefined<KubeObject & { data?: Record<string, string> }>(
      'v1',
      'Secret',
      'kosmos-redis',
      o.namespace,
    );
    const url = s?.data?.['url'];
    if (url) redisUrl = Buffer.from(url, 'base64').toString('utf8');
  }
  if (redisUrl) {
    try {
      input.queues = await queueDepths(redisUrl);
    } catch (e) {
      input.queueError = `${redisUrl}: ${(e as Error).message} (pass --redis-url to reach it from here)`;
    }
  } else input.queueError = 'no kosmos-redis Secret';
  const certs = await host.getOrUndefined<KubeObject & { data?: Record<string, string> }>(
    'v1',
    'Secret',
    WEBHOOK_CERT_SECRET,
    o.namespace,
  );
  const pem = (k: string) =>
    certs?.data?.[k] ? Buffer.from(certs.data[k], 'base64').toString('utf8') : undefined;
  const serving = pem('tls.crt');
  const ca = pem('ca.crt');
  if (serving) input.webhookCertNotAfter = certFacts(serving).notAfter;
  if (ca) input.webhookCaNotAfter = certFacts(ca).notAfter;
  return input;
}
