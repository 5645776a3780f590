/**
 * The leaf clusters this process knows, from the host's Cluster objects: a client per leaf
 * (kubeconfig inline or from a Secret) and a watch of the pods Kosmos placed there.
 */
import { ANNOTATION_CLUSTER_ROLE, LABEL_POD } from '../../api/constants.js';
import type { Pod } from '../../api/core.js';
import type { Cluster } from '../../api/kinds.js';
import type { KubeObject } from '../../api/meta.js';
import { kubeconfigDigest, requireClusterKubeconfig } from '../../common/cluster-kubeconfig.js';
import { KubeClient, kubeConfigFromString } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import { Informer, type InformerHandlers } from '../kube/informer.js';

export interface Leaf {
  name: string;
  cluster: Cluster;
  client: KubeClient;
  /** Pods labelled kosmos-io/pod=true in the leaf. */
  pods: Informer<Pod>;
  /** Every PVC in the leaf (copies are told apart by their kosmos.io/global annotation). */
  pvcs: Informer<KubeObject>;
  kubeconfigHash: string;
}

/** A Cluster ClusterTree should serve: not the host's own entry, not switched off, not being deleted. */
export function servesCluster(c: Cluster): boolean {
  return (
    c.metadata.annotations?.[ANNOTATION_CLUSTER_ROLE] !== 'root' &&
    c.spec.clusterTreeOptions?.enable !== false &&
    !c.metadata.deletionTimestamp
  );
}

/** A leaf's kubeconfig text (inline or from its Secret); a Cluster without one is an error. */
export const leafKubeconfig = (host: KubeClient, c: Cluster): Promise<string> =>
  requireClusterKubeconfig(host, c);

export class LeafRegistry {
  private readonly leaves = new Map<string, Leaf>();

  constructor(
    private readonly host: KubeClient,
    private readonly log: Logger,
    private readonly podHandlers: (cluster: string) => InformerHandlers<Pod>,
    private readonly pvcHandlers: (cluster: string) => InformerHandlers<KubeObject> = () => ({}),
  ) {}

  get(name: string): Leaf | undefined {
    return this.leaves.get(name);
  }

  all(): Leaf[] {
    return [...this.leaves.values()];
  }

  /** Creates or refreshes the leaf of a Cluster; a changed kubeconfig gets a new client and watch. */
  async ensure(cluster: Cluster): Promise<Leaf> {
    const name = cluster.metadata.name ?? '';
    const text = await leafKubeconfig(this.host, cluster);
    const hash = kubeconfigDigest(text);
    const existing = this.leaves.get(name);
    if (existing && existing.kubeconfigHash === hash) {
      existing.cluster = cluster;
      return existing;
    }
    if (existing) this.remove(name);
    const client = new KubeClient(kubeConfigFromString(text));
    const pods = new Informer<Pod>(
      client,
      { path: '/api/v1/pods', labelSelector: `${LABEL_POD}=true` },
      this.podHandlers(name),
      this.log.child({ cluster: name }),
    );
    const pvcs = new Informer<KubeObject>(
      client,
      { path: '/api/v1/persistentvolumeclaims' },
      this.pvcHandlers(name),
      this.log.child({ cluster: name }),
    );
    const leaf: Leaf = { name, cluster, client, pods, pvcs, kubeconfigHash: hash };
    this.leaves.set(name, leaf);
    void pods.start();
    void pvcs.start();
    this.log.info('leaf cluster joined', { cluster: name, server: client.server });
    return leaf;
  }

  remove(name: string): void {
    const leaf = this.leaves.get(name);
    if (!leaf) return;
    leaf.pods.stop();
    leaf.pvcs.stop();
    leaf.client.close();
    this.leaves.delete(name);
    this.log.info('leaf cluster left', { cluster: name });
  }

  stop(): void {
    for (const name of [...this.leaves.keys()]) this.remove(name);
  }
}
