/**
 * Network manager adapter: on any Cluster or ClusterNode change, recompute every NodeConfig
 * with the pure core, write only the ones whose spec changed, delete the ones of nodes that
 * left, nudge the affected agents through their queues, and put what cannot work into
 * Cluster.status.conditions (type ClusterLinkReady).
 */
import { Queue } from 'bullmq';
import type { Cluster, NodeConfigSpec } from '../../api/kinds.js';
import type { Condition } from '../../api/meta.js';
import { describeError } from '../../common/errors.js';
import { logFailure, type Logger } from '../../common/logger.js';
import { agentQueueName } from '../agent/agent.js';
import { computeNodeConfigs } from '../netconfig/compute.js';
import type { Problem } from '../netconfig/model.js';
import { sameContent } from '../store/same.js';
import type { ClusterLinkStore, NodeConfigStore, Unsubscribe, Watchable } from '../store/types.js';

export const CONDITION_READY = 'ClusterLinkReady';

export interface NetworkManagerOptions {
  store: NodeConfigStore & ClusterLinkStore & Watchable;
  log: Logger;
  debounceMs?: number;
  /** Full recompute period, in case an event was missed. */
  resyncMs?: number;
  bullmq?: { connection: { url: string }; prefix: string };
}

export interface ReconcileResult {
  written: string[];
  deleted: string[];
  problems: Problem[];
  computeMs: number;
}

export class NetworkManager {
  private readonly o: Required<Omit<NetworkManagerOptions, 'bullmq'>> & Pick<NetworkManagerOptions, 'bullmq'>;
  private readonly queues = new Map<string, Queue>();
  private unwatch: Unsubscribe | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReconcileResult> | undefined;
  private again = false;

  constructor(o: NetworkManagerOptions) {
    this.o = { debounceMs: 50, resyncMs: 30_000, ...o };
  }

  async start(): Promise<void> {
    this.unwatch = await this.o.store.watch(
      (e) => {
        if (e.kind === 'nodeconfig') return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(
          () => logFailure(this.trigger(), this.o.log, 'reconcile failed'),
          this.o.debounceMs,
        );
      },
      { kinds: ['cluster', 'clusternode'] },
    );
    this.timer = setInterval(
      () => logFailure(this.trigger(), this.o.log, 'reconcile failed'),
      this.o.resyncMs,
    );
    await this.trigger();
  }

  async stop(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    if (this.timer) clearInterval(this.timer);
    await this.unwatch?.();
    await this.running?.catch(() => undefined);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  trigger(): Promise<ReconcileResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let r: ReconcileResult;
      do {
        this.again = false;
        r = await this.reconcile();
      } while (this.again);
      this.running = undefined;
      return r;
    })().catch((err: unknown) => {
      this.running = undefined;
      this.o.log.error('reconcile failed', { error: describeError(err) });
      return { written: [], deleted: [], problems: [], computeMs: 0 };
    });
    return this.running;
  }

  async reconcile(): Promise<ReconcileResult> {
    const [clusters, clusterNodes, existing] = await Promise.all([
      this.o.store.listClusters(),
      this.o.store.listClusterNodes(),
      this.o.store.listNodeConfigs(),
    ]);
    const previous = new Map<string, NodeConfigSpec>(existing.map((n) => [n.metadata.name ?? '', n.spec]));
    const t0 = performance.now();
    const { nodeConfigs, problems } = computeNodeConfigs({ clusters, clusterNodes, previous });
    const computeMs = performance.now() - t0;
    const written: string[] = [];
    for (const [name, spec] of nodeConfigs) {
      if (previous.has(name) && sameContent(previous.get(name), spec)) continue;
      const generation = await this.o.store.putNodeConfigSpec(name, spec);
      if (generation === 0) continue;
      written.push(name);
      await this.nudge(name, generation);
    }
    const deleted = [...previous.keys()].filter((n) => !nodeConfigs.has(n));
    for (const name of deleted) await this.o.store.deleteNodeConfig(name);
    await this.writeConditions(clusters, problems);
    if (written.length || deleted.length)
      this.o.log.info('node configs updated', {
        written: written.length,
        deleted: deleted.length,
        problems: problems.length,
      });
    return { written, deleted, problems, computeMs };
  }

  private async nudge(name: string, generation: number): Promise<void> {
    if (!this.o.bullmq) return;
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(agentQueueName(name), {
        connection: this.o.bullmq.connection,
        prefix: this.o.bullmq.prefix,
      });
      this.queues.set(name, q);
    }
    // The job only says "look again"; the NodeConfig stays the durable desired state.
    await q.add(
      'sync',
      { generation },
      { jobId: `g${generation}`, removeOnComplete: true, removeOnFail: 100 },
    );
  }

  private async writeConditions(clusters: Cluster[], problems: Problem[]): Promise<void> {
    for (const c of clusters) {
      const name = c.metadata.name ?? '';
      if (!c.spec.clusterLinkOptions) continue;
      const mine = problems.filter((p) => p.cluster === name);
      const old = c.status?.conditions?.find((x) => x.type === CONDITION_READY);
      const status: Condition['status'] = mine.length ? 'False' : 'True';
      const reason = mine.length ? (mine[0]?.reason ?? 'Problem') : 'Connected';
      const message = mine.length
        ? mine.map((p) => (p.node ? `${p.node}: ${p.message}` : p.message)).join('; ')
        : 'all nodes configured';
      if (old && old.status === status && old.reason === reason && old.message === message) continue;
      const cond: Condition = {
        type: CONDITION_READY,
        status,
        reason,
        message,
        lastTransitionTime:
          old && old.status === status
            ? (old.lastTransitionTime ?? new Date().toISOString())
            : new Date().toISOString(),
      };
      const others = (c.status?.conditions ?? []).filter((x) => x.type !== CONDITION_READY);
      await this.o.store.putClusterStatus(name, { ...c.status, conditions: [...others, cond] });
    }
  }
}
