/**
 * Per member cluster controller (Kubernetes adapter): keeps one ClusterNode per member Node
 * and the Cluster's clusterLinkStatus in the control plane, and, in a Calico member, the
 * IPPools for every remote cluster's CIDRs. It polls the member cluster (every 30 s by
 * default) instead of watching, which is enough for a topology that changes when nodes join
 * or leave.
 *
 * Pod CIDRs come from where the member's CNI keeps them (pod-cidrs.ts), service CIDRs from
 * the spec override, ServiceCIDR objects, the apiserver's flag or join's flag
 * (service-cidrs.ts). Exercised against a real apiserver by test/e2e/clusterlink.test.ts.
 */
import { ANNOTATION_SERVICE_CIDRS, LABEL_CLUSTER } from '../../api/constants.js';
import type { Cluster } from '../../api/kinds.js';
import { describeError } from '../../common/errors.js';
import type { KubeClient } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import { sameContent } from '../store/same.js';
import type { ClusterLinkStore } from '../store/types.js';
import { calicoPoolPlan, remoteCalicoPools } from './calico-pools.js';
import { clusterLinkStatusFor, clusterNodeFor, memberNodesFrom } from './cluster-node.js';
import { readMemberFacts } from './member-facts.js';
import {
  CALICO_API_VERSION,
  CALICO_IPPOOL,
  CLUSTERLINK_POOL_PREFIX,
  type CalicoIPPool,
} from './member-objects.js';
import { podCIDRsFor } from './pod-cidrs.js';
import { serviceCIDRsFor } from './service-cidrs.js';

/** Field manager of the Calico IPPools ClusterLink writes in members. */
export const POOL_FIELD_MANAGER = 'kosmos-clusterlink';

export interface ControllerOptions {
  cluster: string;
  /** Client of the member cluster (its Nodes). */
  member: KubeClient;
  /** The control plane's ClusterLink store. */
  store: ClusterLinkStore;
  log: Logger;
  periodMs?: number;
}

export class ClusterLinkController {
  private readonly o: Required<ControllerOptions>;
  private timer: NodeJS.Timeout | undefined;

  constructor(o: ControllerOptions) {
    this.o = { periodMs: 30_000, ...o };
  }

  async start(): Promise<void> {
    await this.reconcile().catch((err: unknown) =>
      this.o.log.warn('reconcile failed', { error: describeError(err) }),
    );
    this.timer = setInterval(() => {
      this.reconcile().catch((err: unknown) =>
        this.o.log.warn('reconcile failed', { error: describeError(err) }),
      );
    }, this.o.periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * `known`: the Cluster as the caller just listed it, and `all` every Cluster, to spare
   * one list per member.
   */
  async reconcile(known?: Cluster, all?: readonly Cluster[]): Promise<void> {
    const clusters = all ?? (await this.o.store.listClusters());
    const cluster = known ?? clusters.find((c) => c.metadata.name === this.o.cluster);
    const opts = cluster?.spec.clusterLinkOptions;
    if (!cluster || !opts) return;
    const facts = await readMemberFacts(this.o.member, opts.cni);
    const pods = podCIDRsFor({ ...facts, cni: opts.cni });
    const svc = serviceCIDRsFor({
      override: opts.serviceCIDRs,
      serviceCIDRs: facts.serviceCIDRs,
      apiserverPods: facts.apiserverPods,
      joinFlag: cluster.metadata.annotations?.[ANNOTATION_SERVICE_CIDRS],
    });
    this.logDecision({
      podCIDRs: pods.clusterSource,
      nodePodCIDRs: pods.nodeSource,
      serviceCIDRs: svc.source,
      notes: [...facts.notes, ...pods.notes],
    });
    const members = memberNodesFrom(facts.nodes, {
      ...(opts.defaultNICName ? { defaultNICName: opts.defaultNICName } : {}),
      ...(opts.nicNodeNames ? { nicNodeNames: opts.nicNodeNames } : {}),
      podCIDRs: pods.perNode,
    });
    const existing = (await this.o.store.listClusterNodes()).filter(
      (n) => n.spec.clusterName === this.o.cluster || n.metadata.labels?.[LABEL_CLUSTER] === this.o.cluster,
    );
    const wanted = new Set<string>();
    for (const m of members) {
      const cn = clusterNodeFor(this.o.cluster, m);
      wanted.add(cn.metadata.name ?? '');
      const cur = existing.find((e) => e.metadata.name === cn.metadata.name);
      const { roles: _r, ...curSpec } = cur?.spec ?? {};
      if (!cur || !sameContent(curSpec, cn.spec) || !sameContent(cur.metadata.labels, cn.metadata.labels))
        await this.o.store.putClusterNode(cn);
    }
    for (const e of existing)
      if (!wanted.has(e.metadata.name ?? '')) await this.o.store.deleteClusterNode(e.metadata.name ?? '');
    const clusterLinkStatus = clusterLinkStatusFor(pods.cluster, svc.cidrs);
    if (!sameContent(cluster.status?.clusterLinkStatus, clusterLinkStatus))
      await this.o.store.putClusterStatus(this.o.cluster, { ...cluster.status, clusterLinkStatus });
    // Calico members: pools for the other clusters' CIDRs, as the clusters now stand (this
    // one's status as just computed).
    if (facts.calicoIPPools) {
      const now = clusters.map((c) =>
        c.metadata.name === this.o.cluster ? { ...c, status: { ...c.status, clusterLinkStatus } } : c,
      );
      const live = now.filter((c) => !c.metadata.deletionTimestamp);
      await this.syncPools(remoteCalicoPools(this.o.cluster, live, facts.calicoIPPools), facts.calicoIPPools);
    }
  }

  private async syncPools(wanted: readonly CalicoIPPool[], existing: readonly CalicoIPPool[]): Promise<void> {
    const plan = calicoPoolPlan(wanted, existing);
    for (const p of plan.apply) await this.o.member.apply(p, POOL_FIELD_MANAGER);
    for (const name of plan.remove)
      await this.o.member.delete({ apiVersion: CALICO_API_VERSION, kind: CALICO_IPPOOL, metadata: { name } });
    if (plan.apply.length + plan.remove.length > 0)
      this.o.log.info('calico ippools for remote clusters', {
        applied: plan.apply.map((p) => p.metadata?.name),
        removed: plan.remove,
      });
  }

  /** The cluster leaves ClusterLink: its Calico pools for remote CIDRs go (a member without Calico has none). */
  async removePools(): Promise<void> {
    let pools: CalicoIPPool[];
    try {
      pools = (await this.o.member.list<CalicoIPPool>(CALICO_API_VERSION, CALICO_IPPOOL)).items;
    } catch (e) {
      this.o.log.debug('no calico ippools to remove', { error: describeError(e) });
      return;
    }
    for (const p of pools) {
      const name = p.metadata?.name ?? '';
      if (name.startsWith(CLUSTERLINK_POOL_PREFIX))
        await this.o.member.delete({
          apiVersion: CALICO_API_VERSION,
          kind: CALICO_IPPOOL,
          metadata: { name },
        });
    }
  }

  private lastDecision = '';
  private logDecision(d: Record<string, unknown>): void {
    const text = JSON.stringify(d);
    if (text === this.lastDecision) return;
    this.lastDecision = text;
    this.o.log.info('cidr sources', d);
  }
}
