/**
 * Per member cluster controller (Kubernetes adapter): keeps one ClusterNode per member Node
 * and the Cluster's clusterLinkStatus in the control plane. It polls the member cluster (every 30 s by
 * default) instead of watching, which is enough for a topology that changes when nodes join
 * or leave.
 *
 * Pod CIDRs of the cluster are the nodes' Node.spec.podCIDRs; service CIDRs come from the
 * spec override, ServiceCIDR objects, the apiserver's flag or join's flag
 * (service-cidrs.ts). Exercised against a real apiserver by test/e2e/clusterlink.test.ts.
 */
import { ANNOTATION_SERVICE_CIDRS, LABEL_CLUSTER } from '../../api/constants.js';
import type { Cluster } from '../../api/kinds.js';
import { describeError } from '../../common/errors.js';
import type { KubeClient } from '../../common/kube.js';
import type { Logger } from '../../common/logger.js';
import { sameContent } from '../store/same.js';
import type { ClusterLinkStore } from '../store/types.js';
import { clusterLinkStatusFor, clusterNodeFor, memberNodesFrom } from './cluster-node.js';
import { readMemberFacts } from './member-facts.js';
import { serviceCIDRsFor } from './service-cidrs.js';

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

  /** `known`: the Cluster as the caller just listed it, to spare one list per member. */
  async reconcile(known?: Cluster): Promise<void> {
    const cluster =
      known ?? (await this.o.store.listClusters()).find((c) => c.metadata.name === this.o.cluster);
    const opts = cluster?.spec.clusterLinkOptions;
    if (!cluster || !opts) return;
    const facts = await readMemberFacts(this.o.member);
    const svc = serviceCIDRsFor({
      override: opts.serviceCIDRs,
      serviceCIDRs: facts.serviceCIDRs,
      apiserverPods: facts.apiserverPods,
      joinFlag: cluster.metadata.annotations?.[ANNOTATION_SERVICE_CIDRS],
    });
    this.logDecision({ serviceCIDRs: svc.source, notes: facts.notes });
    const members = memberNodesFrom(facts.nodes, {
      ...(opts.defaultNICName ? { defaultNICName: opts.defaultNICName } : {}),
      ...(opts.nicNodeNames ? { nicNodeNames: opts.nicNodeNames } : {}),
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
    const podCIDRs = [...new Set(members.flatMap((m) => m.podCIDRs))].sort();
    const clusterLinkStatus = clusterLinkStatusFor(podCIDRs, svc.cidrs);
    if (!sameContent(cluster.status?.clusterLinkStatus, clusterLinkStatus))
      await this.o.store.putClusterStatus(this.o.cluster, { ...cluster.status, clusterLinkStatus });
  }

  private lastDecision = '';
  private logDecision(d: Record<string, unknown>): void {
    const text = JSON.stringify(d);
    if (text === this.lastDecision) return;
    this.lastDecision = text;
    this.o.log.info('cidr sources', d);
  }
}
