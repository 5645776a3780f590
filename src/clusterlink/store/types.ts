/**
 * Where ClusterLink keeps desired state and leases. The lab and the integration tests use
 * Redis; a Kubernetes control plane uses the kosmos.io CRDs and coordination.k8s.io Leases.
 */
import type {
  Cluster,
  ClusterNode,
  ClusterStatus,
  NodeConfig,
  NodeConfigSpec,
  NodeConfigStatus,
} from '../../api/kinds.js';

export type Kind = 'cluster' | 'clusternode' | 'nodeconfig';

export interface ChangeEvent {
  kind: Kind;
  name: string;
}

export type Unsubscribe = () => Promise<void>;

export interface NodeConfigStore {
  getNodeConfig(name: string): Promise<NodeConfig | undefined>;
  listNodeConfigs(): Promise<NodeConfig[]>;
  /** Create or replace the spec; metadata.generation moves only when the spec changes. Returns the new generation, or 0 when unchanged. */
  putNodeConfigSpec(name: string, spec: NodeConfigSpec): Promise<number>;
  deleteNodeConfig(name: string): Promise<void>;
  /** Written only by the agent of that node. */
  putNodeConfigStatus(name: string, status: NodeConfigStatus): Promise<void>;
}

export interface ClusterLinkStore {
  listClusters(): Promise<Cluster[]>;
  putCluster(cluster: Cluster): Promise<void>;
  putClusterStatus(name: string, status: ClusterStatus): Promise<void>;
  deleteCluster(name: string): Promise<void>;
  listClusterNodes(): Promise<ClusterNode[]>;
  /** Spec fields other than roles (node controller, agent). Roles belong to the elector. */
  putClusterNode(node: ClusterNode): Promise<void>;
  deleteClusterNode(name: string): Promise<void>;
  /** Atomically give `gateway` to `nodeName` and take it from every other node of `cluster`. */
  setGateway(cluster: string, nodeName: string): Promise<boolean>;
}

export interface LeaseStore {
  /** Acquire or renew; true while `holder` holds the lease. */
  tryAcquire(lease: string, holder: string, ttlMs: number): Promise<boolean>;
  release(lease: string, holder: string): Promise<void>;
}

/**
 * What a watcher needs to hear about. A store may deliver more (Redis has one channel for all);
 * callers still filter. The Kubernetes store opens only these watches, so an agent does not
 * receive every NodeConfig of the federation.
 */
export interface WatchScope {
  kinds?: readonly Kind[];
  /** Only the object of this name (a field selector on metadata.name). */
  name?: string;
}

export interface Watchable {
  watch(onChange: (e: ChangeEvent) => void, scope?: WatchScope): Promise<Unsubscribe>;
}

export type Store = NodeConfigStore & ClusterLinkStore & LeaseStore & Watchable & { close(): Promise<void> };
