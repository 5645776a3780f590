/**
 * ClusterLink state in a Kubernetes control plane: the kosmos.io Cluster, ClusterNode and
 * NodeConfig objects and coordination.k8s.io Leases, through the project's plain-JSON
 * KubeClient (credentials from @kubernetes/client-node) and the common informer for change events.
 *
 * Ownership follows the reference's writers, with server-side apply so no writer overwrites
 * another's fields: the controller applies ClusterNode spec fields except roles
 * (field manager `clusterlink-controller`), the elector applies roles
 * (`clusterlink-elector`), the network manager replaces NodeConfig specs with
 * resourceVersion preconditions, and only the agent writes NodeConfig status (merge patch on
 * the status subresource).
 *
 * Exercised against a real apiserver by test/e2e/clusterlink.test.ts (the sandbox), the
 * Redis store by the integration tests.
 */
import { API_VERSION, DEFAULT_NAMESPACE, GROUP, ROLE_GATEWAY, VERSION } from '../../api/constants.js';
import type {
  Cluster,
  ClusterNode,
  ClusterStatus,
  NodeConfig,
  NodeConfigSpec,
  NodeConfigStatus,
} from '../../api/kinds.js';
import { KosmosError, describeError } from '../../common/errors.js';
import type { KubeObject } from '../../api/meta.js';
import { Informer } from '../../common/informer.js';
import { type KubeClient, isConflict, isNotFound } from '../../common/kube.js';
import { createLogger, type Logger } from '../../common/logger.js';
import { sameContent } from './same.js';
import type { ChangeEvent, Kind, Store, Unsubscribe, WatchScope } from './types.js';

const BASE = `/apis/${GROUP}/${VERSION}`;
const PLURAL: Record<Kind, string> = {
  cluster: 'clusters',
  clusternode: 'clusternodes',
  nodeconfig: 'nodeconfigs',
};
const KIND: Record<Kind, string> = {
  cluster: 'Cluster',
  clusternode: 'ClusterNode',
  nodeconfig: 'NodeConfig',
};
const MERGE = 'application/merge-patch+json';
const APPLY = 'application/apply-patch+yaml';
export const FIELD_MANAGER_CONTROLLER = 'clusterlink-controller';
export const FIELD_MANAGER_ELECTOR = 'clusterlink-elector';
export const FIELD_MANAGER_MANAGER = 'clusterlink-network-manager';
export const FIELD_MANAGER_AGENT = 'clusterlink-agent';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Lease times are MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const path = (kind: Kind, name?: string) =>
  `${BASE}/${PLURAL[kind]}${name ? `/${encodeURIComponent(name)}` : ''}`;

export class KubeStore implements Store {
  private readonly client: KubeClient;
  private readonly leaseNamespace: string;
  private readonly log: Logger;
  private readonly informers = new Set<Informer<KubeObject>>();

  constructor(client: KubeClient, opts: { leaseNamespace?: string; log?: Logger } = {}) {
    this.client = client;
    this.leaseNamespace = opts.leaseNamespace ?? DEFAULT_NAMESPACE;
    this.log = opts.log ?? createLogger('clusterlink-store');
  }

  async close(): Promise<void> {
    for (const i of this.informers) i.stop();
    this.informers.clear();
  }

  /**
   * Watch the kinds of `scope` (all three by default). Every object that exists is reported
   * once as the informers list, then every change; a deletion missed while disconnected is
   * reported by the relist that follows. Returns at once: the informers retry on their own.
   */
  async watch(onChange: (e: ChangeEvent) => void, scope: WatchScope = {}): Promise<Unsubscribe> {
    const kinds = scope.kinds ?? (['cluster', 'clusternode', 'nodeconfig'] as const);
    const mine = kinds.map((kind) => {
      const changed = (o: KubeObject) => {
        const name = o.metadata?.name;
        if (name) onChange({ kind, name });
      };
      const informer = new Informer<KubeObject>(
        this.client,
        { path: path(kind), ...(scope.name ? { fieldSelector: `metadata.name=${scope.name}` } : {}) },
        { onUpsert: changed, onDelete: changed },
        this.log.child({ kind: KIND[kind] }),
      );
      this.informers.add(informer);
      void informer.start();
      return informer;
    });
    return async () => {
      for (const i of mine) {
        i.stop();
        this.informers.delete(i);
      }
    };
  }

  private async get<T>(kind: Kind, name: string): Promise<T | undefined> {
    try {
      return await this.client.request<T>('GET', path(kind, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async list<T>(kind: Kind): Promise<T[]> {
    const out = await this.client.request<{ items: T[] }>('GET', path(kind));
    return [...out.items].sort((a, b) => {
      const an = (a as { metadata?: { name?: string } }).metadata?.name ?? '';
      const bn = (b as { metadata?: { name?: string } }).metadata?.name ?? '';
      return an.localeCompare(bn);
    });
  }

  getNodeConfig(name: string): Promise<NodeConfig | undefined> {
    return this.get<NodeConfig>('nodeconfig', name);
  }

  listNodeConfigs(): Promise<NodeConfig[]> {
    return this.list<NodeConfig>('nodeconfig');
  }

  /** Replace the spec under a resourceVersion precondition (retried on conflict), create when absent. */
  async putNodeConfigSpec(name: string, spec: NodeConfigSpec): Promise<number> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.getNodeConfig(name);
      try {
        if (!cur) {
          const made = await this.client.request<NodeConfig>(
            'POST',
            path('nodeconfig'),
            { apiVersion: API_VERSION, kind: KIND.nodeconfig, metadata: { name }, spec },
            { query: { fieldManager: FIELD_MANAGER_MANAGER } },
          );
          return made.metadata.generation ?? 1;
        }
        if (sameContent(cur.spec, spec)) return 0;
        const updated = await this.client.request<NodeConfig>(
          'PUT',
          path('nodeconfig', name),
          { ...cur, spec, status: undefined },
          { query: { fieldManager: FIELD_MANAGER_MANAGER } },
        );
        return updated.metadata.generation ?? 0;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    throw new KosmosError(`NodeConfig ${name}: still conflicting after 5 attempts`);
  }

  async deleteNodeConfig(name: string): Promise<void> {
    try {
      await this.client.request('DELETE', path('nodeconfig', name));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /**
   * The agent owns the whole status: a field it leaves out (an error that is gone) is removed,
   * which a merge patch does only for a field given as null.
   */
  async putNodeConfigStatus(name: string, status: NodeConfigStatus): Promise<void> {
    const cleared: Record<Exclude<keyof NodeConfigStatus, 'conditions'>, null> = {
      appliedGeneration: null,
      lastSyncTime: null,
      lastChangeTime: null,
      error: null,
    };
    await this.client.request(
      'PATCH',
      `${path('nodeconfig', name)}/status`,
      { status: { ...cleared, ...status } },
      {
        contentType: MERGE,
        query: { fieldManager: FIELD_MANAGER_AGENT },
      },
    );
  }

  listClusters(): Promise<Cluster[]> {
    return this.list<Cluster>('cluster');
  }

  /** Only the lab and tests create Clusters; in production they come from `kosmosctl join`. */
  async putCluster(cluster: Cluster): Promise<void> {
    const { status, ...rest } = cluster;
    await this.client.request('PATCH', path('cluster', cluster.metadata.name), rest, {
      contentType: APPLY,
      query: { fieldManager: FIELD_MANAGER_CONTROLLER, force: true },
    });
    if (status) await this.putClusterStatus(cluster.metadata.name ?? '', status);
  }

  async putClusterStatus(name: string, status: ClusterStatus): Promise<void> {
    await this.client.request(
      'PATCH',
      `${path('cluster', name)}/status`,
      { status },
      {
        contentType: MERGE,
        query: { fieldManager: FIELD_MANAGER_CONTROLLER },
      },
    );
  }

  async deleteCluster(name: string): Promise<void> {
    try {
      await this.client.request('DELETE', path('cluster', name));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  listClusterNodes(): Promise<ClusterNode[]> {
    return this.list<ClusterNode>('clusternode');
  }

  async putClusterNode(node: ClusterNode): Promise<void> {
    const { roles: _roles, ...spec } = node.spec;
    await this.client.request(
      'PATCH',
      path('clusternode', node.metadata.name),
      {
        apiVersion: API_VERSION,
        kind: KIND.clusternode,
        metadata: { name: node.metadata.name, labels: node.metadata.labels },
        spec,
      },
      { contentType: APPLY, query: { fieldManager: FIELD_MANAGER_CONTROLLER, force: true } },
    );
  }

  async deleteClusterNode(name: string): Promise<void> {
    try {
      await this.client.request('DELETE', path('clusternode', name));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /**
   * Kubernetes has no multi-object transaction: take the role from the others first, then
   * give it to the winner, so there is never more than one gateway (briefly none).
   */
  async setGateway(cluster: string, nodeName: string): Promise<boolean> {
    const nodes = (await this.listClusterNodes()).filter((n) => n.spec.clusterName === cluster);
    if (!nodes.some((n) => n.metadata.name === nodeName))
      throw new KosmosError(`ClusterNode ${nodeName} of cluster ${cluster} does not exist`);
    const isGw = (n: ClusterNode) => (n.spec.roles ?? []).some((r) => r.toLowerCase() === ROLE_GATEWAY);
    let changed = false;
    const setRoles = async (name: string, roles: string[]) => {
      await this.client.request(
        'PATCH',
        path('clusternode', name),
        { apiVersion: API_VERSION, kind: KIND.clusternode, metadata: { name }, spec: { roles } },
        { contentType: APPLY, query: { fieldManager: FIELD_MANAGER_ELECTOR, force: true } },
      );
      changed = true;
    };
    for (const n of nodes)
      if (n.metadata.name !== nodeName && isGw(n)) await setRoles(n.metadata.name ?? '', []);
    const winner = nodes.find((n) => n.metadata.name === nodeName);
    if (winner && !isGw(winner)) await setRoles(nodeName, [ROLE_GATEWAY]);
    return changed;
  }

  async tryAcquire(lease: string, holder: string, ttlMs: number): Promise<boolean> {
    const p = `/apis/coordination.k8s.io/v1/namespaces/${this.leaseNamespace}/leases/${encodeURIComponent(lease)}`;
    const now = new Date();
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
    let cur: Lease | undefined;
    try {
      cur = await this.client.request<Lease>('GET', p);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    try {
      if (!cur) {
        await this.client.request(
          'POST',
          `/apis/coordination.k8s.io/v1/namespaces/${this.leaseNamespace}/leases`,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: lease, namespace: this.leaseNamespace },
            spec: {
              holderIdentity: holder,
              leaseDurationSeconds: seconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          } satisfies Lease,
        );
        return true;
      }
      const renewed = cur.spec.renewTime ? Date.parse(cur.spec.renewTime) : 0;
      const expired = renewed + (cur.spec.leaseDurationSeconds ?? seconds) * 1000 < now.getTime();
      const mine = cur.spec.holderIdentity === holder;
      if (!mine && !expired && cur.spec.holderIdentity) return false;
      const spec: Lease['spec'] = mine
        ? { ...cur.spec, renewTime: microTime(now), leaseDurationSeconds: seconds }
        : {
            holderIdentity: holder,
            leaseDurationSeconds: seconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: (cur.spec.leaseTransitions ?? 0) + 1,
          };
      // The resourceVersion in the body makes this a compare-and-swap: a rival's write fails ours.
      await this.client.request('PUT', p, { ...cur, spec });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw new KosmosError(`lease ${this.leaseNamespace}/${lease}: ${describeError(e)}`);
    }
  }

  async release(lease: string, holder: string): Promise<void> {
    const p = `/apis/coordination.k8s.io/v1/namespaces/${this.leaseNamespace}/leases/${encodeURIComponent(lease)}`;
    try {
      const cur = await this.client.request<Lease>('GET', p);
      if (cur.spec.holderIdentity !== holder) return;
      await this.client.request('PUT', p, {
        ...cur,
        spec: { ...cur.spec, holderIdentity: '', renewTime: undefined },
      });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }
}
