/**
 * One agent per node: makes the kernel match the node's NodeConfig and says so in
 * NodeConfig.status. Triggers: a BullMQ job on the node's own queue (prompt), a watch of the
 * store (prompt), and a periodic resync that repairs drift. Syncs never overlap.
 */
import { Worker } from 'bullmq';
import type { NodeConfigSpec, NodeConfigStatus } from '../../api/kinds.js';
import { describeError } from '../../common/errors.js';
import { logFailure, type Logger } from '../../common/logger.js';
import type { NodeConfigStore, Unsubscribe, Watchable } from '../store/types.js';
import { AUTO_SELECT_INTERFACE } from '../../api/constants.js';
import type { Family } from '../../common/ip.js';
import { canonicalSpec, deviceFamily, diff, emptyPlan, natFamilies, planSize } from './diff.js';
import type { HostPort } from './kernel-host.js';

export const agentQueueName = (nodeConfigName: string): string => `clusterlink-agent-${nodeConfigName}`;

export interface AgentOptions {
  /** NodeConfig name = `<cluster>-<node>`. */
  name: string;
  store: NodeConfigStore & Watchable;
  host: HostPort;
  log: Logger;
  /** The node's own addresses (InternalIPs): where a device bound to "*" finds its NIC. */
  nodeIPs?: readonly string[];
  /** Drift repair period; the issue asks for repair within 30 s. */
  resyncMs?: number;
  /** lastSyncTime alone is rewritten at most this often, so a quiet node does not write every resync. */
  statusHeartbeatMs?: number;
  bullmq?: { connection: { url: string }; prefix: string };
}

export interface SyncResult {
  changed: number;
  errors: string[];
  durationMs: number;
}

export class Agent {
  private readonly o: Required<Omit<AgentOptions, 'bullmq'>> & Pick<AgentOptions, 'bullmq'>;
  /** Last valid desired spec and its generation; undefined until the store has answered once. */
  private desired: { spec: Required<NodeConfigSpec>; generation: number } | undefined;
  private running: Promise<SyncResult | undefined> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: Unsubscribe | undefined;
  private worker: Worker | undefined;
  private lastStatus: NodeConfigStatus | undefined;
  private lastStatusAt = 0;
  private stopped = false;

  constructor(o: AgentOptions) {
    this.o = { resyncMs: 10_000, statusHeartbeatMs: 60_000, nodeIPs: [], ...o };
  }

  async start(): Promise<void> {
    this.unwatch = await this.o.store.watch(
      (e) => {
        if (e.kind === 'nodeconfig' && e.name === this.o.name)
          logFailure(this.trigger(), this.o.log, 'sync failed');
      },
      { kinds: ['nodeconfig'], name: this.o.name },
    );
    if (this.o.bullmq) {
      this.worker = new Worker(
        agentQueueName(this.o.name),
        async () => {
          await this.trigger();
        },
        { connection: this.o.bullmq.connection, prefix: this.o.bullmq.prefix, concurrency: 1 },
      );
      this.worker.on('error', (err) => this.o.log.warn('queue worker error', { error: describeError(err) }));
    }
    this.timer = setInterval(() => logFailure(this.trigger(), this.o.log, 'sync failed'), this.o.resyncMs);
    await this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.worker?.close();
    await this.unwatch?.();
    await this.running;
  }

  /** Run a sync now, or once more right after the one in progress. */
  trigger(): Promise<SyncResult | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let r: SyncResult | undefined;
      do {
        this.again = false;
        r = await this.syncOnce().catch((err: unknown) => {
          this.o.log.error('sync failed', { error: describeError(err) });
          return { changed: 0, errors: [describeError(err)], durationMs: 0 };
        });
      } while (this.again && !this.stopped);
      this.running = undefined;
      return r;
    })();
    return this.running;
  }

  /**
   * Devices bound to "*" (the cluster's defaultNICName left to detection) get this node's NIC
   * of their family; a family with none found refuses the spec like any invalid field.
   */
  private async resolveNics(
    spec: Required<NodeConfigSpec>,
    errors: string[],
  ): Promise<{ spec: Required<NodeConfigSpec>; errors: string[] }> {
    if (!spec.devices.some((d) => d.bindDev === AUTO_SELECT_INTERFACE)) return { spec, errors };
    const found = new Map<Family, string | undefined>();
    const out: string[] = [...errors];
    const devices = [];
    for (const [i, d] of spec.devices.entries()) {
      if (d.bindDev !== AUTO_SELECT_INTERFACE) {
        devices.push(d);
        continue;
      }
      const f = deviceFamily(d.name);
      if (!found.has(f)) found.set(f, await this.o.host.detectNic(f, this.o.nodeIPs));
      const nic = found.get(f);
      if (nic) devices.push({ ...d, bindDev: nic });
      else {
        out.push(
          `spec.devices[${i}].bindDev: Invalid value: "*": no interface holds ${this.o.nodeIPs.length > 0 ? `the node address ${this.o.nodeIPs.join(', ')}` : 'a node address'} and there is no IPv${f} default route; set the cluster's defaultNICName`,
        );
        devices.push(d);
      }
    }
    return { spec: { ...spec, devices }, errors: out };
  }

  private async syncOnce(): Promise<SyncResult | undefined> {
    const t0 = performance.now();
    const obj = await this.o.store.getNodeConfig(this.o.name);
    // After a restart, continue from the status the previous process wrote (lastChangeTime stays).
    if (!this.lastStatus && obj?.status) this.lastStatus = obj.status;
    let refused: string | undefined;
    if (!obj) {
      // The network manager deleted our NodeConfig: the node is no longer linked, so tear down.
      this.desired = { spec: canonicalSpec({}).spec, generation: 0 };
    } else {
      const generation = obj.metadata.generation ?? 0;
      const canonical = canonicalSpec(obj.spec);
      const { spec, errors } = await this.resolveNics(canonical.spec, canonical.errors);
      if (errors.length > 0) {
        // Keep enforcing the last good spec: a bad config must not take the node's links down.
        refused = `generation ${generation} refused, keeping generation ${this.desired?.generation ?? 'none'}: ${errors.join('; ')}`;
        this.o.log.warn('NodeConfig refused', { generation, errors });
      } else this.desired = { spec, generation };
    }
    if (!this.desired) {
      await this.writeStatus({ error: refused, lastSyncTime: new Date().toISOString() }, true);
      return { changed: 0, errors: refused ? [refused] : [], durationMs: performance.now() - t0 };
    }
    const have = await this.o.host.load(natFamilies(this.desired.spec));
    const plan = diff(this.desired.spec, have);
    const errors = emptyPlan(plan) ? [] : await this.o.host.apply(plan);
    // After the plan: a device created just now gets its sysctls in the same pass.
    const sysctls = await this.o.host.enforceSysctls(this.desired.spec);
    errors.push(...sysctls.errors);
    const changed = planSize(plan) + sysctls.changed;
    const now = new Date().toISOString();
    if (changed > 0)
      this.o.log.info('applied', {
        generation: this.desired.generation,
        changes: changed,
        errors: errors.length,
      });
    const allErrors = [...(refused ? [refused] : []), ...errors];
    if (obj) {
      await this.writeStatus(
        {
          appliedGeneration:
            errors.length === 0 ? this.desired.generation : (this.lastStatus?.appliedGeneration ?? 0),
          lastSyncTime: now,
          ...(changed > 0
            ? { lastChangeTime: now }
            : this.lastStatus?.lastChangeTime
              ? { lastChangeTime: this.lastStatus.lastChangeTime }
              : {}),
          ...(allErrors.length ? { error: allErrors.join('; ') } : {}),
        },
        changed > 0,
      );
    }
    return { changed, errors: allErrors, durationMs: performance.now() - t0 };
  }

  private async writeStatus(s: NodeConfigStatus, force: boolean): Promise<void> {
    const same =
      JSON.stringify({ ...s, lastSyncTime: '' }) === JSON.stringify({ ...this.lastStatus, lastSyncTime: '' });
    if (same && !force && Date.now() - this.lastStatusAt < this.o.statusHeartbeatMs) return;
    const clean = Object.fromEntries(
      Object.entries(s).filter(([, v]) => v !== undefined),
    ) as NodeConfigStatus;
    await this.o.store.putNodeConfigStatus(this.o.name, clean);
    this.lastStatus = clean;
    this.lastStatusAt = Date.now();
  }
}
