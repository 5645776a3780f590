/**
 * One process serving every member cluster: reads the member clusters from the host's
 * Cluster objects (credentials from spec.kubeconfig or spec.kubeconfigSecretRef, the same
 * ones ClusterTree uses; the host's own Cluster, annotated kosmos.io/cluster-role=root, is
 * served through the host's client) and runs a ClusterLinkController for each.
 *
 * The reference runs one controller inside each member cluster; that shape is still
 * available (`clusterlink-controller --cluster NAME --member-kubeconfig FILE`). This one
 * needs no deployment in the members and follows joins and leaves without a restart.
 */
import { createHash } from 'node:crypto';
import { ANNOTATION_CLUSTER_ROLE, LABEL_CLUSTER } from '../../api/constants.js';
import type { Cluster } from '../../api/kinds.js';
import { KosmosError, describeError } from '../../common/errors.js';
import { clusterKubeconfigText } from '../../common/cluster-kubeconfig.js';
import { KubeClient, kubeConfigFromString } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import type { ClusterLinkStore } from '../store/types.js';
import { ClusterLinkController } from './controller.js';

export interface MembersOptions {
  /** The host cluster: its Secrets, and the member client of a root Cluster. */
  host: KubeClient;
  store: ClusterLinkStore;
  log: Logger;
  periodMs?: number;
  /** Serve only this Cluster (credentials still from its Cluster object). */
  only?: string;
}

interface Member {
  client: KubeClient;
  /** Hash of the credentials, to notice a rotated kubeconfig. */
  key: string;
  controller: ClusterLinkController;
}

/** A Cluster ClusterLink links: has clusterLinkOptions, not switched off, not being deleted. */
export const linksCluster = (c: Cluster): boolean =>
  c.spec.clusterLinkOptions !== undefined &&
  c.spec.clusterLinkOptions.enable !== false &&
  !c.metadata.deletionTimestamp;

export class ClusterLinkMembers {
  private readonly o: Required<Omit<MembersOptions, 'only'>> & Pick<MembersOptions, 'only'>;
  private readonly members = new Map<string, Member>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(o: MembersOptions) {
    this.o = { periodMs: 30_000, ...o };
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.periodMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    for (const m of this.members.values()) if (m.client !== this.o.host) m.client.close();
    this.members.clear();
  }

  /** One pass over all members; passes never overlap (a slow member delays the next pass). */
  tick(): Promise<void> {
    this.running ??= this.reconcile()
      .catch((err: unknown) => this.o.log.warn('members pass failed', { error: describeError(err) }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async reconcile(): Promise<void> {
    const all = await this.o.store.listClusters();
    const clusters = all.filter((c) => linksCluster(c) && (!this.o.only || c.metadata.name === this.o.only));
    const names = new Set(clusters.map((c) => c.metadata.name ?? ''));
    for (const c of clusters) {
      const name = c.metadata.name ?? '';
      try {
        const m = await this.member(c);
        await m.controller.reconcile(c, all);
      } catch (err) {
        this.o.log.warn('member reconcile failed', { cluster: name, error: describeError(err) });
      }
    }
    for (const [name, m] of this.members) {
      if (names.has(name)) continue;
      // The cluster left ClusterLink: its nodes leave too (the reference's clean-up on delete),
      // and so do the Calico pools it had for the other clusters.
      this.members.delete(name);
      await m.controller
        .removePools()
        .catch((err: unknown) =>
          this.o.log.warn('removing calico ippools failed', { cluster: name, error: describeError(err) }),
        );
      if (m.client !== this.o.host) m.client.close();
      const mine = (await this.o.store.listClusterNodes()).filter(
        (n) => n.metadata.labels?.[LABEL_CLUSTER] === name,
      );
      for (const n of mine) await this.o.store.deleteClusterNode(n.metadata.name ?? '');
      this.o.log.info('cluster left ClusterLink', { cluster: name, clusterNodes: mine.length });
    }
  }

  private async member(c: Cluster): Promise<Member> {
    const name = c.metadata.name ?? '';
    const text = await this.kubeconfigOf(c);
    const key = text === undefined ? 'host' : createHash('sha256').update(text).digest('hex');
    const cur = this.members.get(name);
    if (cur && cur.key === key) return cur;
    if (cur && cur.client !== this.o.host) cur.client.close();
    const client = text === undefined ? this.o.host : new KubeClient(kubeConfigFromString(text));
    const m: Member = {
      client,
      key,
      controller: new ClusterLinkController({
        cluster: name,
        member: client,
        store: this.o.store,
        log: this.o.log.child({ cluster: name }),
      }),
    };
    this.members.set(name, m);
    this.o.log.info('serving member cluster', { cluster: name });
    return m;
  }

  /** The member's kubeconfig text; undefined means "the host itself". */
  private async kubeconfigOf(c: Cluster): Promise<string | undefined> {
    const text = await clusterKubeconfigText(this.o.host, c);
    if (text !== undefined) return text;
    if (c.metadata.annotations?.[ANNOTATION_CLUSTER_ROLE] === 'root') return undefined;
    throw new KosmosError('spec.kubeconfig or spec.kubeconfigSecretRef is required');
  }
}
