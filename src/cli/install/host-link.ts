/**
 * The host cluster as a ClusterLink member (the Go project's `join --root-flag`): `install`
 * with the clusterlink module gives the host a Cluster of its own, annotated
 * `kosmos.io/cluster-role: root` and without credentials (ClusterTree and MCS skip it, the
 * ClusterLink controller serves it through the host's own client), and the member half of
 * ClusterLink (agent DaemonSet, elector) in the host's namespace, so its nodes get
 * ClusterNodes, NodeConfigs and tunnels and host pods reach leaf pods. `uninstall` takes it
 * away again.
 */
import { ANNOTATION_CLUSTER_ROLE, API_VERSION, LABEL_CLUSTER } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import { UserError } from '../../common/errors.js';
import { type KubeClient, isNotServed } from '../../common/kube.js';
import { applyObjects, deleteObjects } from './apply.js';
import { hostKubeconfigSecret, memberCredentialObjects, memberCredentials } from './join.js';
import type { Progress } from './progress.js';
import { defaultLayout, renderMember, type Layout } from './render.js';
import {
  FIELD_MANAGER,
  LABEL_MANAGED_BY,
  LABEL_PART_OF,
  MANAGED_BY,
  PART_OF,
  bundledRedisUrl,
  type HostValues,
} from './values.js';

/** The host's Cluster name: its nodes' ClusterNodes are `host-<node>`, as in the sandbox. */
export const HOST_CLUSTER_NAME = 'host';

export const isRootCluster = (c: KubeObject): boolean =>
  c.metadata?.annotations?.[ANNOTATION_CLUSTER_ROLE] === 'root';

export function hostClusterObject(v: Pick<HostValues, 'cni' | 'defaultNic'>): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: {
      name: HOST_CLUSTER_NAME,
      labels: { [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: MANAGED_BY },
      annotations: { [ANNOTATION_CLUSTER_ROLE]: 'root' },
    },
    spec: {
      clusterLinkOptions: {
        enable: true,
        cni: v.cni,
        defaultNICName: v.defaultNic,
        networkType: 'p2p',
        ipFamily: 'ipv4',
      },
      clusterTreeOptions: { enable: false },
    },
  } as KubeObject;
}

/**
 * The member half of ClusterLink for the host: the agent and elector of deploy/member, less
 * what the host install already has (its namespace, its kosmos-redis Secret).
 */
export function hostMemberParts(v: HostValues, layout: Layout | undefined): KubeObject[] {
  return renderMember(
    {
      namespace: v.namespace,
      hostNamespace: v.namespace,
      image: v.image,
      clusterName: HOST_CLUSTER_NAME,
      redisUrl: v.redisUrl || bundledRedisUrl(v.namespace),
      link: true,
      mcs: false,
      managedBy: v.managedBy,
    },
    layout ?? defaultLayout(),
  ).filter((o) => o.kind !== 'Namespace' && !(o.kind === 'Secret' && o.metadata?.name === 'kosmos-redis'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The host's Cluster. install applies it before the webhook configurations: the validating
 * webhook of kosmos.io objects may not be serving yet (and on a re-install an unchanged
 * Cluster is left alone, so an install whose webhook is not reachable still succeeds).
 * The Cluster CRD was applied moments before: give discovery a few seconds to serve it.
 */
export async function ensureHostCluster(
  client: KubeClient,
  o: { values: HostValues; progress: Progress },
): Promise<void> {
  const want = hostClusterObject(o.values) as KubeObject & { spec: Record<string, unknown> };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const have = await client.getOrUndefined<KubeObject & { spec?: Record<string, unknown> }>(
        API_VERSION,
        'Cluster',
        HOST_CLUSTER_NAME,
      );
      if (have && !isRootCluster(have))
        throw new UserError(
          `Cluster ${HOST_CLUSTER_NAME} exists and is not the host's own (no ${ANNOTATION_CLUSTER_ROLE}: root annotation): unjoin it, or install with --no-enable-link`,
        );
      const clo = (x: Record<string, unknown> | undefined) =>
        (x?.['clusterLinkOptions'] ?? {}) as Record<string, unknown>;
      const same =
        have &&
        Object.entries(clo(want.spec)).every(([k, v]) => clo(have.spec)[k] === v) &&
        (have.spec?.['clusterTreeOptions'] as { enable?: boolean } | undefined)?.enable === false;
      if (same) return;
      o.progress(`linking the host's own nodes into ClusterLink (Cluster ${HOST_CLUSTER_NAME})`);
      await applyObjects(client, [want], { dryRun: false, progress: () => {} });
      return;
    } catch (e) {
      const notYet = isNotServed(e) || isNotServed((e as { cause?: unknown }).cause);
      if (!notYet || Date.now() > deadline) throw e;
      await sleep(500);
    }
  }
}

/** The host's agents and elector, with a token of their own (as a member's), after the host install is up. */
export async function linkHostMembers(
  client: KubeClient,
  o: { values: HostValues; hostServer?: string; layout?: Layout },
): Promise<KubeObject[]> {
  const ns = o.values.namespace;
  const kubeconfig = await memberCredentials(client, {
    name: HOST_CLUSTER_NAME,
    namespace: ns,
    ...(o.hostServer ? { hostServer: o.hostServer } : {}),
  });
  const objects = [hostKubeconfigSecret(ns, kubeconfig), ...hostMemberParts(o.values, o.layout)];
  await applyObjects(client, objects, { dryRun: false, progress: () => {}, fieldManager: FIELD_MANAGER });
  return objects;
}

/**
 * Undoes linkHost. The Cluster goes first, so the ClusterLink controller stops writing the
 * host's ClusterNodes (and the network manager its NodeConfigs) before the agents go; what
 * is left of the ClusterNodes is deleted here in case the controller is gone already.
 */
export async function unlinkHost(
  client: KubeClient,
  o: { values: HostValues; timeoutMs: number; progress: Progress; layout?: Layout },
): Promise<void> {
  const ns = o.values.namespace;
  const cluster = await client
    .getOrUndefined<KubeObject>(API_VERSION, 'Cluster', HOST_CLUSTER_NAME)
    .catch(() => undefined);
  if (cluster && !isRootCluster(cluster)) return; // a leaf that happens to be named "host": not ours
  const done = { timeoutMs: o.timeoutMs, progress: o.progress };
  if (cluster)
    await deleteObjects(
      client,
      [{ apiVersion: API_VERSION, kind: 'Cluster', metadata: { name: HOST_CLUSTER_NAME } }],
      done,
    );
  const clusterNodes = await client
    .list<KubeObject>(API_VERSION, 'ClusterNode', { labelSelector: `${LABEL_CLUSTER}=${HOST_CLUSTER_NAME}` })
    .then((l) => l.items)
    .catch(() => [] as KubeObject[]);
  await deleteObjects(
    client,
    [
      ...memberCredentialObjects(HOST_CLUSTER_NAME, ns),
      hostKubeconfigSecret(ns, ''),
      ...hostMemberParts(o.values, o.layout),
      ...clusterNodes.map((n) => ({
        apiVersion: API_VERSION,
        kind: 'ClusterNode',
        metadata: { name: n.metadata?.name ?? '' },
      })),
    ],
    done,
  );
}
