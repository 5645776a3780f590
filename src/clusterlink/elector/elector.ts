/**
 * Gateway election for one cluster: every candidate node runs an elector; whoever holds the
 * lease `elector-<cluster>` gives itself the gateway role (and takes it from the others in
 * the same atomic step). A dead gateway stops renewing, its lease expires after ttlMs, and
 * the next candidate takes over within ttlMs + retryMs.
 */
import { describeError } from '../../common/errors.js';
import { logFailure, type Logger } from '../../common/logger.js';
import type { ClusterLinkStore, LeaseStore } from '../store/types.js';

export interface ElectorOptions {
  cluster: string;
  /** ClusterNode name of the node this elector runs on. */
  nodeName: string;
  store: LeaseStore & ClusterLinkStore;
  log: Logger;
  ttlMs?: number;
  retryMs?: number;
}

export const leaseName = (cluster: string): string => `elector-${cluster}`;

export class Elector {
  private readonly o: Required<ElectorOptions>;
  private timer: NodeJS.Timeout | undefined;
  private leader = false;
  private busy = false;

  constructor(o: ElectorOptions) {
    this.o = { ttlMs: 8_000, retryMs: 2_000, ...o };
  }

  get isLeader(): boolean {
    return this.leader;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(
      () => logFailure(this.tick(), this.o.log, 'lease renewal failed'),
      this.o.retryMs,
    );
  }

  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (opts.release && this.leader) await this.o.store.release(leaseName(this.o.cluster), this.o.nodeName);
    this.leader = false;
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const held = await this.o.store.tryAcquire(leaseName(this.o.cluster), this.o.nodeName, this.o.ttlMs);
      if (held !== this.leader)
        this.o.log.info(held ? 'became gateway leader' : 'lost gateway lease', { node: this.o.nodeName });
      this.leader = held;
      // Re-asserted on every renewal: repairs roles edited by hand and is a no-op otherwise.
      if (held) await this.o.store.setGateway(this.o.cluster, this.o.nodeName);
    } catch (err) {
      this.o.log.warn('election round failed', { error: describeError(err) });
    } finally {
      this.busy = false;
    }
  }
}
