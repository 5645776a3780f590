/**
 * The heartbeat of one leaf cluster (every 10 s): asks the leaf for its nodes and pods, then
 * makes the host's virtual nodes match the Cluster's leafModels (creating, updating and
 * removing them, so leafModel changes need no restart), with capacity, conditions and a
 * renewed Lease; and writes the Cluster status summary. When the leaf
 * does not answer, the virtual nodes stay Ready with the Lease renewed, show the outage in a
 * condition and a NoSchedule taint of their own (virtual-node/node.ts says why), and pods are
 * never touched. When it answers again, pod statuses are re-synced.
 */
import {
  ANNOTATION_KOSMOS_TAINTS,
  ANNOTATION_OWNED_BY_CLUSTER,
  CONDITION_LEAF_UNREACHABLE,
  API_VERSION,
  FIELD_MANAGER,
  FINALIZER_CLUSTER_MANAGER,
  LABEL_CLUSTER,
} from '../../api/constants.js';
import type { Node, Pod } from '../../api/core.js';
import type { Cluster } from '../../api/kinds.js';
import { isAlreadyExists, isConflict, isNotFound, type ListResult } from '../../common/kube.js';
import { errorFields } from '../../common/logger.js';
import { largestFree, memberFree, nodeUsable, virtualNodeCapacity } from '../capacity/capacity.js';
import { LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE } from '../names.js';
import { planVirtualNodes, type VirtualNodePlan } from '../virtual-node/plan.js';
import {
  LEGACY_UNREACHABLE_REASON,
  virtualNodeIdentity,
  virtualNodeStatus,
  type VirtualNodeIdentityInput,
} from '../virtual-node/node.js';
import type { ClusterTreeContext } from './context.js';
import type { Leaf } from './leaf-registry.js';

const APPLY = 'application/apply-patch+yaml';
const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

async function leafState(leaf: Leaf): Promise<{ nodes: Node[]; pods: Pod[]; version: string } | undefined> {
  try {
    const [version, nodes, pods] = await Promise.all([
      leaf.client.request<{ gitVersion?: string }>('GET', '/version', undefined, { timeoutMs: 5_000 }),
      leaf.client.request<ListResult<Node>>('GET', '/api/v1/nodes', undefined, { timeoutMs: 10_000 }),
      leaf.client.request<ListResult<Pod>>('GET', '/api/v1/pods', undefined, {
        timeoutMs: 15_000,
        query: { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' },
      }),
    ]);
    return { nodes: nodes.items, pods: pods.items, version: version.gitVersion ?? 'unknown' };
  } catch {
    return undefined;
  }
}

/** The node showed an outage (or, from versions before the outage condition, was NotReady for one). */
function wasUnreachable(node: Node): boolean {
  return (node.status?.conditions ?? []).some(
    (c) =>
      (c.type === CONDITION_LEAF_UNREACHABLE && c.status === 'True') ||
      (c.type === 'Ready' && c.reason === LEGACY_UNREACHABLE_REASON),
  );
}

async function hostVirtualNodes(ctx: ClusterTreeContext, cluster: string): Promise<Node[]> {
  const list = await ctx.host.request<ListResult<Node>>('GET', '/api/v1/nodes', undefined, {
    query: { labelSelector: `${LABEL_CLUSTER}=${cluster}` },
  });
  return list.items.filter((n) => n.metadata?.annotations?.[ANNOTATION_OWNED_BY_CLUSTER] === cluster);
}

async function renewLease(ctx: ClusterTreeContext, node: Node, now: Date): Promise<void> {
  const name = node.metadata?.name ?? '';
  await ctx.host.request(
    'PATCH',
    `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases/${name}`,
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: NODE_LEASE_NAMESPACE,
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata?.uid ?? '' }],
      },
      spec: { holderIdentity: name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) },
    },
    { contentType: APPLY, query: { fieldManager: FIELD_MANAGER, force: true } },
  );
}

const MAX_CONFLICTS = 3;

/**
 * The node's identity (labels, annotations, taints) under the resourceVersion its taints were
 * merged from: someone's `kubectl taint` in between makes it a 409, and the merge is redone on
 * what they wrote. While the leaf answers, server-side apply (so mirrored labels a member
 * drops go away); while it does not, only the taints and their record change, and labels
 * stay as the leaf last showed them.
 */
async function writeIdentity(
  ctx: ClusterTreeContext,
  plan: VirtualNodePlan,
  current: Node,
  input: Omit<VirtualNodeIdentityInput, 'current'>,
): Promise<void> {
  const path = `/api/v1/nodes/${encodeURIComponent(plan.name)}`;
  for (let attempt = 1; ; attempt++) {
    const identity = virtualNodeIdentity(plan, { ...input, current });
    const resourceVersion = current.metadata?.resourceVersion;
    try {
      if (input.leafReachable) {
        await ctx.host.request(
          'PATCH',
          path,
          { ...identity, metadata: { ...identity.metadata, resourceVersion } },
          { contentType: APPLY, query: { fieldManager: FIELD_MANAGER, force: true } },
        );
      } else {
        await ctx.host.request(
          'PATCH',
          path,
          {
            metadata: {
              resourceVersion,
              annotations: {
                [ANNOTATION_KOSMOS_TAINTS]: identity.metadata?.annotations?.[ANNOTATION_KOSMOS_TAINTS] ?? '',
              },
            },
            spec: { taints: identity.spec?.taints ?? [] },
          },
          { contentType: 'application/merge-patch+json', query: { fieldManager: FIELD_MANAGER } },
        );
      }
      return;
    } catch (e) {
      if (!isConflict(e) || attempt >= MAX_CONFLICTS) throw e;
    }
    current = await ctx.host.request<Node>('GET', path);
  }
}

async function upsertNode(
  ctx: ClusterTreeContext,
  plan: VirtualNodePlan,
  prev: Node | undefined,
  status: NonNullable<Node['status']>,
  input: Omit<VirtualNodeIdentityInput, 'current'>,
): Promise<Node> {
  let current = prev;
  if (!current) {
    try {
      current = await ctx.host.create({ ...virtualNodeIdentity(plan, input), status });
      ctx.log.info('virtual node created', { cluster: plan.cluster, node: plan.name, mode: plan.mode });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      current = await ctx.host.get<Node>('v1', 'Node', plan.name);
    }
  }
  await writeIdentity(ctx, plan, current, input);
  return await ctx.host.request<Node>(
    'PATCH',
    `/api/v1/nodes/${encodeURIComponent(plan.name)}/status`,
    { apiVersion: 'v1', kind: 'Node', metadata: { name: plan.name }, status },
    { contentType: APPLY, query: { fieldManager: FIELD_MANAGER, force: true } },
  );
}

async function writeClusterStatus(
  ctx: ClusterTreeContext,
  cluster: Cluster,
  status: Record<string, unknown>,
): Promise<void> {
  await ctx.host.request(
    'PATCH',
    `/apis/${API_VERSION}/clusters/${encodeURIComponent(cluster.metadata.name ?? '')}/status`,
    { status: { clusterTreeStatus: status } },
    { contentType: 'application/merge-patch+json' },
  );
}

export async function syncClusterNodes(ctx: ClusterTreeContext, clusterName: string): Promise<void> {
  const leaf = ctx.leaves.get(clusterName);
  if (!leaf) return;
  const cluster = leaf.cluster;
  const now = new Date();
  const state = await leafState(leaf);
  const existing = await hostVirtualNodes(ctx, clusterName);
  const byName = new Map(existing.map((n) => [n.metadata?.name ?? '', n]));
  const plans = planVirtualNodes(cluster, state?.nodes ?? []);
  let recovered = false;
  for (const plan of plans) {
    let prev = byName.get(plan.name);
    if (!prev) {
      // Another worker may have just created it; a host node of that name that is not ours
      // (a real node, or another cluster's) is left alone.
      const other = await ctx.host.getOrUndefined<Node>('v1', 'Node', plan.name);
      if (other && other.metadata?.annotations?.[ANNOTATION_OWNED_BY_CLUSTER] !== clusterName) {
        ctx.log.warn('a host node with the virtual node name exists and is not ours', {
          cluster: clusterName,
          node: plan.name,
        });
        continue;
      }
      prev = other;
      if (!prev && !state) continue; // never create nodes for a leaf we cannot see
    }
    if (state && prev && wasUnreachable(prev)) recovered = true;
    const member = state && plan.mode === 'one2one' ? plan.members[0] : undefined;
    const status = virtualNodeStatus({
      allocatable: state
        ? virtualNodeCapacity(plan.members, state.pods).allocatable
        : Object.fromEntries(Object.entries(prev?.status?.allocatable ?? {}).map(([k, v]) => [k, String(v)])),
      leafReachable: state !== undefined,
      now: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...(prev?.status?.conditions ? { previous: prev.status.conditions } : {}),
      kubeletVersion: state?.version ?? prev?.status?.nodeInfo?.['kubeletVersion'] ?? 'unknown',
      address: ctx.nodeServer.address,
      port: ctx.nodeServer.port,
      ...(member ? { member } : {}),
    });
    const node = await upsertNode(ctx, plan, prev, status, {
      leafReachable: state !== undefined,
      ...(member ? { member } : {}),
    });
    // Renewed during an outage too: a lapsed Lease would make the host's node lifecycle
    // controller evict every pod of the node (see virtual-node/node.ts).
    await renewLease(ctx, node, now);
  }
  if (state) {
    // Nodes of leafModels that no longer exist (only when the leaf answered: an outage changes no plan).
    const wanted = new Set(plans.map((p) => p.name));
    for (const n of existing)
      if (!wanted.has(n.metadata?.name ?? '')) await deleteVirtualNode(ctx, n, clusterName);
    const entries = memberFree(state.nodes, state.pods);
    await writeClusterStatus(ctx, cluster, {
      memberNodes: state.nodes.filter(nodeUsable).length,
      largestFree: largestFree(entries.values()),
      lastSyncTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      leafNodeItems: plans.map((p) => ({ leafNodeName: p.name })),
    }).catch((e: unknown) =>
      ctx.log.warn('cannot write Cluster status', { cluster: clusterName, ...errorFields(e) }),
    );
  }
  if (recovered) {
    ctx.log.info('leaf cluster answers again; re-syncing pod statuses', { cluster: clusterName });
    for (const p of ctx.caches.pods.list()) {
      if (!plans.some((pl) => pl.name === p.spec.nodeName)) continue;
      ctx.queue.add(
        {
          type: 'status',
          cluster: clusterName,
          namespace: p.metadata?.namespace ?? '',
          name: p.metadata?.name ?? '',
        },
        `recovered-${now.getTime()}`,
      );
    }
  }
}

async function deleteVirtualNode(ctx: ClusterTreeContext, node: Node, cluster: string): Promise<void> {
  const name = node.metadata?.name ?? '';
  await ctx.host.delete({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
  await ctx.host.delete({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: NODE_LEASE_NAMESPACE },
  });
  ctx.log.info('virtual node removed', { cluster, node: name });
}

/** The Cluster is being deleted or no longer served: its virtual nodes go, then the finalizer. */
export async function removeCluster(ctx: ClusterTreeContext, clusterName: string): Promise<void> {
  for (const n of await hostVirtualNodes(ctx, clusterName)) await deleteVirtualNode(ctx, n, clusterName);
  const c = await ctx.host.getOrUndefined<Cluster>(API_VERSION, 'Cluster', clusterName);
  if (!c || !(c.metadata.finalizers ?? []).includes(FINALIZER_CLUSTER_MANAGER)) return;
  try {
    await ctx.host.request(
      'PATCH',
      `/apis/${API_VERSION}/clusters/${encodeURIComponent(clusterName)}`,
      {
        metadata: {
          resourceVersion: c.metadata.resourceVersion,
          finalizers: (c.metadata.finalizers ?? []).filter((f) => f !== FINALIZER_CLUSTER_MANAGER),
        },
      },
      { contentType: 'application/merge-patch+json' },
    );
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
