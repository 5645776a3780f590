/**
 * `kosmosctl join cluster` and `unjoin cluster`: the member's kubeconfig in a Secret of the
 * host, the Cluster object, the per-member ClusterLink parts and (when the host runs MCS) the
 * MCS CRDs and clusterset DNS server in the member, and waits for what the host's components
 * make of it (virtual nodes, ClusterNodes).
 */
import { readFileSync } from 'node:fs';
import {
  ANNOTATION_OWNED_BY_CLUSTER,
  ANNOTATION_SERVICE_CIDRS,
  API_VERSION,
  LABEL_CLUSTER,
  LABEL_NODE,
  TAINT_NODE,
  type LeafMode,
} from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import { normalizeCIDR } from '../../common/ip.js';
import { UserError, describeError } from '../../common/errors.js';
import type { KubeClient } from '../../common/kube.js';
import { applyObjects, deleteObjects, waitForWorkloads } from './apply.js';
import { configureCoreDns, unconfigureCoreDns } from './coredns.js';
import type { Progress } from './progress.js';
import { defaultLayout, renderMember, type Layout } from './render.js';
import { FIELD_MANAGER, LABEL_MANAGED_BY, LABEL_PART_OF, MANAGED_BY, PART_OF } from './values.js';

export interface JoinOptions {
  name: string;
  namespace: string;
  /** The member's kubeconfig file content. */
  kubeconfig: string;
  cni: string;
  defaultNic: string;
  networkType: 'p2p' | 'gateway';
  ipFamily: 'all' | 'ipv4' | 'ipv6';
  leafModel: LeafMode;
  /** Service CIDRs for ClusterLink when the member shows none itself (no ServiceCIDR objects, no apiserver pod). */
  serviceCIDRs?: string[];
  /** one2party: which member nodes form the party. */
  partySelector?: Record<string, string>;
  tree: boolean;
  link: boolean;
  /** The host runs the MCS controller: the member gets the MCS CRDs and a clusterset.local DNS server. */
  mcs: boolean;
  /** With mcs: add the clusterset.local block to the member's CoreDNS (default true). */
  coreDns?: boolean;
  image: string;
  /** Host apiserver address as the member's daemons reach it (default: this kubeconfig's). */
  hostServer?: string;
  /** Redis the member's ClusterLink daemons use. */
  redisUrl: string;
  wait: boolean;
  timeoutMs: number;
  progress: Progress;
  layout?: Layout;
}

interface NodeObject extends KubeObject {
  spec?: { podCIDRs?: string[]; podCIDR?: string };
  status?: {
    conditions?: { type: string; status: string }[];
    addresses?: { type: string; address: string }[];
  };
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function validateClusterName(name: string): void {
  if (!name) throw new UserError('--name is required');
  if (name.length > 63 || !DNS1123.test(name))
    throw new UserError(
      `--name: Invalid value: "${name}": must be at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit`,
    );
}

/** `--service-cidr a,b`: CIDRs, as network addresses. */
export function parseServiceCIDRs(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',').map((x) => x.trim())) {
    const cidr = normalizeCIDR(part);
    if (!cidr)
      throw new UserError(
        `--service-cidr: Invalid value: "${part}": must be a CIDR such as 10.96.0.0/12 or fd00:10:96::/112`,
      );
    out.push(cidr);
  }
  return out;
}

export const kubeconfigSecretName = (cluster: string): string => `kosmos-cluster-${cluster}`;

/** Real nodes of a member: virtual nodes of a nested Kosmos are not the member's machines. */
export async function memberNodes(member: KubeClient): Promise<NodeObject[]> {
  const nodes = await member.list<NodeObject>('v1', 'Node', { labelSelector: `!${LABEL_NODE}` });
  return nodes.items;
}

export function leafModels(
  mode: LeafMode,
  nodes: string[],
  partySelector?: Record<string, string>,
): Record<string, unknown>[] | undefined {
  if (mode === 'one2cluster') return undefined;
  if (mode === 'one2party') {
    if (!partySelector || Object.keys(partySelector).length === 0)
      throw new UserError('--leaf-model one2party needs --party-selector key=value[,key=value]');
    return [{ leafNodeName: 'party', nodeSelector: { labelSelector: { matchLabels: partySelector } } }];
  }
  return nodes.map((n) => ({ leafNodeName: n, nodeSelector: { nodeName: n }, taints: [{ ...TAINT_NODE }] }));
}

export function clusterObject(o: JoinOptions, nodes: string[]): KubeObject {
  const models = o.tree ? leafModels(o.leafModel, nodes, o.partySelector) : undefined;
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: {
      name: o.name,
      labels: { [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: MANAGED_BY },
      ...(o.serviceCIDRs?.length
        ? { annotations: { [ANNOTATION_SERVICE_CIDRS]: o.serviceCIDRs.join(',') } }
        : {}),
    },
    spec: {
      kubeconfigSecretRef: { name: kubeconfigSecretName(o.name), namespace: o.namespace, key: 'kubeconfig' },
      namespace: o.namespace,
      clusterLinkOptions: {
        enable: o.link,
        cni: o.cni,
        defaultNICName: o.defaultNic,
        networkType: o.networkType,
        ipFamily: o.ipFamily,
      },
      clusterTreeOptions: { enable: o.tree, ...(models ? { leafModels: models } : {}) },
    },
  } as KubeObject;
}

function kubeconfigSecret(o: JoinOptions): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: kubeconfigSecretName(o.name),
      namespace: o.namespace,
      labels: { [LABEL_CLUSTER]: o.name, [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: MANAGED_BY },
    },
    type: 'Opaque',
    data: { kubeconfig: Buffer.from(o.kubeconfig).toString('base64') },
  } as KubeObject;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isReady = (n: NodeObject) =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The host's virtual nodes of a cluster (ClusterTree annotates their owner). */
export async function virtualNodes(host: KubeClient, cluster: string): Promise<NodeObject[]> {
  const all = await host.list<NodeObject>('v1', 'Node', { labelSelector: LABEL_NODE });
  return all.items.filter((n) => n.metadata?.annotations?.[ANNOTATION_OWNED_BY_CLUSTER] === cluster);
}

export const memberServiceAccount = (cluster: string): string => `kosmos-member-${cluster}`;
export const HOST_KUBECONFIG_SECRET = 'kosmos-host-kubeconfig';
const MEMBER_ROLE = 'kosmos-clusterlink-member';

/** The host-side identity of a member's ClusterLink daemons: a ServiceAccount bound to the member role. */
export function memberCredentialObjects(cluster: string, namespace: string): KubeObject[] {
  const sa = memberServiceAccount(cluster);
  const labels = { [LABEL_CLUSTER]: cluster, [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: MANAGED_BY };
  const subjects = [{ kind: 'ServiceAccount', name: sa, namespace }];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `${sa}-token`,
        namespace,
        labels,
        annotations: { 'kubernetes.io/service-account.name': sa },
      },
      type: 'kubernetes.io/service-account-token',
    } as KubeObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: sa, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: MEMBER_ROLE },
      subjects,
    } as KubeObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: sa, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: MEMBER_ROLE },
      subjects,
    } as KubeObject,
  ];
}

export function hostKubeconfigSecret(namespace: string, kubeconfig: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: HOST_KUBECONFIG_SECRET,
      namespace,
      labels: { [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: MANAGED_BY },
    },
    type: 'Opaque',
    data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') },
  } as KubeObject;
}

/**
 * Creates the member's identity in the host and returns a kubeconfig for it: the host's
 * address and CA as this kubeconfig has them (or --host-server), and the token the host's
 * token controller puts in the ServiceAccount's token Secret (revoked by deleting it).
 */
export async function memberCredentials(
  host: KubeClient,
  o: Pick<JoinOptions, 'name' | 'namespace' | 'hostServer'>,
): Promise<string> {
  const objects = memberCredentialObjects(o.name, o.namespace);
  await applyObjects(host, objects, { dryRun: false, progress: () => {} });
  const name = `${memberServiceAccount(o.name)}-token`;
  const deadline = Date.now() + 60_000;
  let token: string | undefined;
  let ca: string | undefined;
  while (!token) {
    const s = await host.getOrUndefined<KubeObject & { data?: Record<string, string> }>(
      'v1',
      'Secret',
      name,
      o.namespace,
    );
    token = s?.data?.['token'];
    ca = s?.data?.['ca.crt'];
    if (token) break;
    if (Date.now() > deadline)
      throw new UserError(
        `the host's token controller did not fill Secret ${o.namespace}/${name} within 60 s`,
      );
    await sleep(500);
  }
  const cluster = host.kubeConfig.getCurrentCluster();
  const caData = cluster?.caData ?? (cluster?.caFile ? readFileSync(cluster.caFile).toString('base64') : ca);
  const server = o.hostServer ?? host.server;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kosmos-host',
        cluster: { server, ...(caData ? { 'certificate-authority-data': caData } : {}) },
      },
    ],
    users: [
      { name: memberServiceAccount(o.name), user: { token: Buffer.from(token, 'base64').toString('utf8') } },
    ],
    contexts: [
      { name: 'kosmos-host', context: { cluster: 'kosmos-host', user: memberServiceAccount(o.name) } },
    ],
    'current-context': 'kosmos-host',
  });
}

/** What join applies to a member (and unjoin removes), for these parts. */
function memberParts(
  o: { namespace: string; image: string; name: string; layout?: Layout | undefined },
  parts: { redisUrl: string; link: boolean; mcs: boolean },
): KubeObject[] {
  return renderMember(
    {
      namespace: o.namespace,
      hostNamespace: o.namespace,
      image: o.image,
      clusterName: o.name,
      managedBy: MANAGED_BY,
      ...parts,
    },
    o.layout ?? defaultLayout(),
  );
}

/**
 * Leaves out CRDs the member already has from someone else (no managed-by kosmosctl label):
 * join does not take them over, unjoin does not delete them. With `existingOnly`, also those
 * the member does not have (nothing to delete).
 */
export async function withoutForeignCrds(
  member: KubeClient,
  objects: KubeObject[],
  existingOnly = false,
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const x of objects) {
    if (x.kind !== 'CustomResourceDefinition') {
      out.push(x);
      continue;
    }
    const have = await member.getOrUndefined(x.apiVersion ?? '', x.kind, x.metadata?.name ?? '');
    if (!have) {
      if (!existingOnly) out.push(x);
    } else if (have.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY) out.push(x);
  }
  return out;
}

export async function join(host: KubeClient, member: KubeClient, o: JoinOptions): Promise<void> {
  validateClusterName(o.name);
  if (!o.tree && !o.link)
    throw new UserError('nothing to enable: use --enable-all, --enable-tree or --enable-link');
  let nodes: NodeObject[];
  try {
    nodes = await memberNodes(member);
  } catch (e) {
    throw new UserError(`cannot reach member cluster ${o.name} at ${member.server}: ${describeError(e)}`, {
      cause: e,
    });
  }
  const names = nodes.map((n) => n.metadata?.name ?? '');
  try {
    await host.get('v1', 'Namespace', o.namespace);
  } catch (e) {
    throw new UserError(
      `host cluster at ${host.server} has no namespace ${o.namespace}: run 'kosmosctl install' first (${describeError(e)})`,
      { cause: e },
    );
  }
  o.progress(
    `joining ${o.name} (${names.length} nodes, ${[o.tree && 'tree', o.link && 'link'].filter(Boolean).join('+')})`,
  );
  await applyObjects(host, [kubeconfigSecret(o), clusterObject(o, names)], {
    dryRun: false,
    progress: () => {},
  });

  let memberObjects: KubeObject[] = [];
  if (o.link || o.mcs) {
    const rendered = await withoutForeignCrds(member, memberParts(o, o));
    memberObjects = o.link
      ? [hostKubeconfigSecret(o.namespace, await memberCredentials(host, o)), ...rendered]
      : rendered;
    // The namespace before the Secret in it.
    memberObjects = [
      ...memberObjects.filter((x) => x.kind === 'Namespace'),
      ...memberObjects.filter((x) => x.kind !== 'Namespace'),
    ];
    const parts = [o.link && 'ClusterLink agent and elector', o.mcs && 'MCS CRDs and clusterset.local DNS'];
    o.progress(`installing ${parts.filter(Boolean).join(', ')} in ${o.name}`);
    await applyObjects(member, memberObjects, {
      dryRun: false,
      progress: () => {},
      fieldManager: FIELD_MANAGER,
    });
    if (o.mcs && o.coreDns !== false) await configureCoreDns(member, o.namespace, o.name, o.progress);
  }
  if (!o.wait) return;
  const deadline = Date.now() + o.timeoutMs;
  if (memberObjects.length > 0)
    await waitForWorkloads(member, memberObjects, { timeoutMs: o.timeoutMs, progress: o.progress });
  let last = '';
  for (;;) {
    const waiting: string[] = [];
    if (o.tree) {
      const vn = await virtualNodes(host, o.name);
      const ready = vn.filter(isReady).length;
      if (vn.length === 0 || ready < vn.length)
        waiting.push(`virtual nodes ${ready}/${vn.length || '?'} Ready`);
    }
    if (o.link) {
      const cn = await host.list('kosmos.io/v1alpha1', 'ClusterNode', {
        labelSelector: `${LABEL_CLUSTER}=${o.name}`,
      });
      if (cn.items.length < names.length) waiting.push(`ClusterNodes ${cn.items.length}/${names.length}`);
    }
    if (waiting.length === 0) break;
    const line = `waiting for ${o.name}: ${waiting.join(', ')}`;
    if (line !== last) o.progress(line);
    last = line;
    if (Date.now() > deadline)
      throw new UserError(
        `timed out after ${Math.round(o.timeoutMs / 1000)} s ${line} (are kosmos-clustertree and the ClusterLink controller running in ${o.namespace}?)`,
      );
    await sleep(1000);
  }
  o.progress(`cluster ${o.name} joined`);
}

export interface UnjoinOptions {
  name: string;
  namespace: string;
  timeoutMs: number;
  progress: Progress;
  layout?: Layout;
  image: string;
}

/** Undoes join; the member's parts are removed when its kubeconfig is still in the host. */
export async function unjoin(
  host: KubeClient,
  member: KubeClient | undefined,
  o: UnjoinOptions,
): Promise<void> {
  validateClusterName(o.name);
  const cluster = await host.getOrUndefined(API_VERSION, 'Cluster', o.name);
  if (!cluster) o.progress(`no Cluster ${o.name} in the host; removing what is left`);
  if (member) {
    // A member that is gone for good must not keep it in the host: its parts are left and
    // said so, the host side is cleaned up regardless.
    try {
      // The MCS CRDs only if join installed them (deleting them deletes every export and
      // import in the member; one that had them before keeps them).
      const objects = await withoutForeignCrds(
        member,
        memberParts(o, { redisUrl: '', link: true, mcs: true }),
        true,
      );
      // The namespace only if join made it: a member may have had kosmos-system before.
      const ns = await member.getOrUndefined('v1', 'Namespace', o.namespace);
      const ours = ns?.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY;
      await unconfigureCoreDns(member, o.name, o.progress);
      o.progress(`removing Kosmos parts from ${o.name}`);
      const all = [hostKubeconfigSecret(o.namespace, ''), ...objects];
      await deleteObjects(member, ours ? all : all.filter((x) => x.kind !== 'Namespace'), {
        timeoutMs: o.timeoutMs,
        progress: o.progress,
      });
    } catch (e) {
      o.progress(
        `warning: could not remove Kosmos from member ${o.name} at ${member.server} (${describeError(e)}); remove namespace ${o.namespace} there by hand`,
      );
    }
  }
  // The Cluster before its kubeconfig: ClusterTree needs the kubeconfig to clean the leaf up.
  await deleteObjects(host, [{ apiVersion: API_VERSION, kind: 'Cluster', metadata: { name: o.name } }], {
    timeoutMs: o.timeoutMs,
    progress: o.progress,
  }).catch((e: unknown) => {
    throw new UserError(
      `Cluster ${o.name} is not gone: its finalizers are removed by kosmos-clustertree and the ClusterLink controller; are they running? (${describeError(e)})`,
    );
  });
  // Virtual nodes ClusterTree may have left behind (the Go project left them too), and the
  // member's ClusterNodes.
  const leftovers = await virtualNodes(host, o.name);
  const clusterNodes = await host
    .list<KubeObject>(API_VERSION, 'ClusterNode', { labelSelector: `${LABEL_CLUSTER}=${o.name}` })
    .then((l) => l.items)
    .catch(() => [] as KubeObject[]);
  await deleteObjects(
    host,
    [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: kubeconfigSecretName(o.name), namespace: o.namespace },
      },
      ...leftovers.map((n) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.metadata?.name ?? '' },
      })),
      ...memberCredentialObjects(o.name, o.namespace),
      ...clusterNodes.map((n) => ({
        apiVersion: API_VERSION,
        kind: 'ClusterNode',
        metadata: { name: n.metadata?.name ?? '' },
      })),
    ],
    { timeoutMs: o.timeoutMs, progress: o.progress },
  );
  o.progress(`cluster ${o.name} unjoined`);
}

/** The member kubeconfig stored by join, for unjoin without --kubeconfig. */
export async function storedKubeconfig(
  host: KubeClient,
  name: string,
  namespace: string,
): Promise<string | undefined> {
  const s = await host.getOrUndefined<KubeObject & { data?: Record<string, string> }>(
    'v1',
    'Secret',
    kubeconfigSecretName(name),
    namespace,
  );
  const data = s?.data?.['kubeconfig'];
  return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
}
