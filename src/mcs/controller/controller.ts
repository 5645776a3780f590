/**
 * The MCS controller: watches every member cluster, runs the pure derive core over all of
 * them whenever anything changes, and writes only the difference (server-side apply with its
 * own field manager, so it never overwrites fields other managers own). Reconciles are
 * serialized and coalesced: a burst of watch events becomes one pass.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { describeError } from '../../common/errors.js';
import { isNotFound } from '../../common/kube.js';
import { errorFields, logFailure, type Logger } from '../../common/logger.js';
import {
  LABEL_APP_MANAGED_BY,
  LABEL_MANAGED_BY,
  MCS_API_VERSION,
  MCS_CONTROLLER_ID,
  MCS_FIELD_MANAGER,
} from '../constants.js';
import { planAutoExports, type AutoExportOptions } from '../derive/auto-export.js';
import { conditionsDiffer } from '../derive/conditions.js';
import { derive, derivedServiceAction, stableJson, type ClusterDesired } from '../derive/derive.js';
import type { Cidr } from '../derive/ip.js';
import type { EndpointSlice, Service, ServiceImport } from '../types.js';
import type { ClusterSource } from './clusters.js';
import { Member } from './member.js';
import { namespacedKey } from '../../common/object-key.js';

export interface ControllerOptions {
  source: ClusterSource;
  clustersetCidrs: Cidr[];
  /** See DeriveOptions.ipSource (default 'service'). */
  ipSource?: 'service' | 'cidr';
  autoExport?: AutoExportOptions | undefined;
  log: Logger;
  registry: Registry;
  /** How often the cluster source is re-read (new or removed Cluster objects). */
  membershipIntervalMs?: number;
  /** Quiet time after a change before a pass, so bursts coalesce. */
  debounceMs?: number;
}

const nowSeconds = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const nsName = (o: { metadata: { namespace?: string; name?: string } }) =>
  namespacedKey(o.metadata.namespace, o.metadata.name ?? '');

/** How often Cluster objects are re-read: a join or leave takes effect within this. */
export const MEMBERSHIP_INTERVAL_MS = 10_000;

export class McsController {
  private readonly members = new Map<string, Member>();
  private running = false;
  private again = false;
  /** Set when a write failed: the retry waits, so a persistent error does not spin. */
  private failed = false;
  private timer: NodeJS.Timeout | undefined;
  private membershipTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private readonly passes: Counter;
  private readonly writes: Counter;
  private readonly errors: Counter;
  private readonly duration: Histogram;
  private readonly memberGauge: Gauge;

  constructor(private readonly opts: ControllerOptions) {
    const r = opts.registry;
    this.passes = new Counter({
      name: 'kosmos_mcs_reconcile_total',
      help: 'Reconcile passes over all member clusters',
      registers: [r],
    });
    this.writes = new Counter({
      name: 'kosmos_mcs_writes_total',
      help: 'Objects written or deleted',
      labelNames: ['cluster', 'kind', 'op'],
      registers: [r],
    });
    this.errors = new Counter({
      name: 'kosmos_mcs_errors_total',
      help: 'Failed writes',
      labelNames: ['cluster'],
      registers: [r],
    });
    this.duration = new Histogram({
      name: 'kosmos_mcs_reconcile_seconds',
      help: 'Duration of a reconcile pass',
      registers: [r],
    });
    this.memberGauge = new Gauge({
      name: 'kosmos_mcs_member_clusters',
      help: 'Member clusters watched',
      registers: [r],
    });
  }

  /** Ready once every member's caches have listed at least once. */
  get ready(): boolean {
    return this.members.size > 0 && [...this.members.values()].every((m) => m.hasSynced);
  }

  get status(): { members: string[]; lastError?: string } {
    return { members: [...this.members.keys()], ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  async start(): Promise<void> {
    await this.refreshMembers();
    const tick = async () => {
      try {
        await this.refreshMembers();
      } catch (e) {
        this.opts.log.warn('cannot read member clusters', errorFields(e));
      }
      if (!this.stopped)
        this.membershipTimer = setTimeout(
          () => logFailure(tick(), this.opts.log, 'cannot read member clusters'),
          this.opts.membershipIntervalMs ?? MEMBERSHIP_INTERVAL_MS,
        );
    };
    this.membershipTimer = setTimeout(
      () => logFailure(tick(), this.opts.log, 'cannot read member clusters'),
      this.opts.membershipIntervalMs ?? MEMBERSHIP_INTERVAL_MS,
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.membershipTimer) clearTimeout(this.membershipTimer);
    for (const m of this.members.values()) m.stop();
    this.members.clear();
  }

  private async refreshMembers(): Promise<void> {
    const wanted = await this.opts.source.list();
    const names = new Set(wanted.map((c) => c.name));
    const leaving: Member[] = [];
    for (const [name, m] of this.members) {
      const w = wanted.find((c) => c.name === name);
      if (!w || w.fingerprint !== m.cluster.fingerprint) {
        this.members.delete(name);
        // A member that left the clusterset keeps nothing derived from the others; one whose
        // credentials changed is served again right below with the new ones.
        if (!w) leaving.push(m);
        else m.stop();
        this.opts.log.info('member cluster removed', { cluster: name, left: !w });
      }
    }
    if (leaving.length > 0) {
      await this.idle();
      await Promise.all(leaving.map((m) => this.withdraw(m)));
    }
    for (const c of wanted) {
      if (this.members.has(c.name)) continue;
      const m = new Member(c, this.opts.log, () => this.schedule());
      this.members.set(c.name, m);
      m.start();
      this.opts.log.info('member cluster added', { cluster: c.name });
    }
    this.memberGauge.set(names.size);
    this.schedule();
  }

  /** Resolves when no pass is writing (a pass started from here on no longer sees removed members). */
  private async idle(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * A member that left keeps nothing the controller derived there: the pass's own diff against
   * an empty desired state deletes exactly its imports, slices and derived Services.
   */
  private async withdraw(m: Member): Promise<void> {
    await this.apply(m, { imports: [], slices: [], services: [], exportStatuses: [] });
    m.stop();
    this.opts.log.info('member cluster withdrawn', { cluster: m.name });
  }

  schedule(delayMs = this.opts.debounceMs ?? 50): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      logFailure(this.pass(), this.opts.log, 'reconcile pass failed');
    }, delayMs);
  }

  private async pass(): Promise<void> {
    // Deriving from a partial view would delete imports of clusters not yet listed.
    if (!this.ready || this.stopped) return;
    this.running = true;
    const end = this.duration.startTimer();
    try {
      const members = [...this.members.values()];
      if (this.opts.autoExport) await Promise.all(members.map((m) => this.autoExport(m)));
      const desired = derive(
        members.map((m) => m.snapshot()),
        {
          clustersetCidrs: this.opts.clustersetCidrs,
          now: nowSeconds(),
          ipSource: this.opts.ipSource ?? 'service',
        },
      );
      await Promise.all(members.map((m) => this.apply(m, desired.get(m.name)!)));
      this.passes.inc();
    } catch (e) {
      this.lastError = describeError(e);
      this.opts.log.error('reconcile failed', errorFields(e));
      this.failed = true;
    } finally {
      end();
      this.running = false;
      if (this.failed) {
        this.failed = false;
        this.again = false;
        this.schedule(1000);
      } else if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  /** Each write is independent: one failure is logged and retried on the next pass, the rest proceed. */
  private async write(
    m: Member,
    kind: string,
    op: string,
    what: string,
    fn: () => Promise<unknown>,
  ): Promise<void> {
    try {
      await fn();
      this.writes.inc({ cluster: m.name, kind, op });
      this.opts.log.debug(`${op} ${kind}`, { cluster: m.name, object: what });
    } catch (e) {
      // The object went away between the watch event and the write: the next pass sees that.
      if (isNotFound(e)) {
        this.opts.log.debug('object gone before write', { cluster: m.name, kind, op, object: what });
        return;
      }
      this.errors.inc({ cluster: m.name });
      this.lastError = `${m.name}: ${op} ${kind} ${what}: ${describeError(e)}`;
      this.opts.log.warn('write failed', { cluster: m.name, kind, op, object: what, ...errorFields(e) });
      this.failed = true;
    }
  }

  private async autoExport(m: Member): Promise<void> {
    const plan = planAutoExports(
      m.services.list(),
      m.namespaces.list(),
      m.exports.list(),
      this.opts.autoExport!,
    );
    await Promise.all([
      ...plan.create.map((e) =>
        this.write(m, 'ServiceExport', 'create', nsName(e), () =>
          m.client.create(e, { fieldManager: MCS_FIELD_MANAGER }),
        ),
      ),
      ...plan.remove.map((e) =>
        this.write(m, 'ServiceExport', 'delete', nsName(e), () =>
          m.client.delete({ ...e, apiVersion: MCS_API_VERSION, kind: 'ServiceExport' }),
        ),
      ),
    ]);
  }

  private async applyStatus(
    m: Member,
    obj: { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string } },
    status: unknown,
  ): Promise<void> {
    const path = `${await m.client.objectPath(obj)}/status`;
    const body = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
      status,
    };
    await m.client.request('PATCH', path, body, {
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: MCS_FIELD_MANAGER, force: true },
    });
  }

  private async apply(m: Member, want: ClusterDesired): Promise<void> {
    const jobs: Promise<void>[] = [];
    const haveImports = new Map(m.imports.list().map((i) => [nsName(i), i]));
    const wantImports = new Set(want.imports.map(nsName));
    for (const imp of want.imports) {
      const have = haveImports.get(nsName(imp));
      jobs.push(
        (async () => {
          const labelsOk =
            have &&
            Object.entries(imp.metadata.labels ?? {}).every(([k, v]) => have.metadata.labels?.[k] === v);
          const annotationsOk =
            have &&
            Object.entries(imp.metadata.annotations ?? {}).every(
              ([k, v]) => have.metadata.annotations?.[k] === v,
            );
          if (!have || !labelsOk || !annotationsOk || stableJson(have.spec) !== stableJson(imp.spec)) {
            const { status: _s, ...body } = imp;
            await this.write(m, 'ServiceImport', 'apply', nsName(imp), () =>
              m.client.apply<ServiceImport>(body, MCS_FIELD_MANAGER),
            );
          }
          if (
            !have ||
            stableJson(have.status?.clusters ?? []) !== stableJson(imp.status?.clusters ?? []) ||
            have.status?.endpointSliceObjects !== imp.status?.endpointSliceObjects ||
            conditionsDiffer(have.status?.conditions, imp.status?.conditions)
          ) {
            await this.write(m, 'ServiceImport', 'status', nsName(imp), () =>
              this.applyStatus(
                m,
                { apiVersion: MCS_API_VERSION, kind: 'ServiceImport', metadata: imp.metadata },
                imp.status,
              ),
            );
          }
        })(),
      );
    }
    for (const [k, have] of haveImports) {
      if (
        wantImports.has(k) ||
        have.metadata.labels?.[LABEL_APP_MANAGED_BY] !== MCS_CONTROLLER_ID ||
        have.metadata.deletionTimestamp
      )
        continue;
      jobs.push(
        this.write(m, 'ServiceImport', 'delete', k, () =>
          m.client.delete({ apiVersion: MCS_API_VERSION, kind: 'ServiceImport', metadata: have.metadata }),
        ),
      );
    }

    const ours = m.slices.list().filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === MCS_CONTROLLER_ID);
    const haveSlices = new Map(ours.map((s) => [nsName(s), s]));
    const wantSlices = new Set(want.slices.map(nsName));
    const sliceBody = (s: EndpointSlice) =>
      stableJson({ t: s.addressType, e: s.endpoints ?? [], p: s.ports ?? [], l: s.metadata.labels });
    for (const s of want.slices) {
      const have = haveSlices.get(nsName(s));
      if (have && sliceBody(have) === sliceBody(s)) continue;
      jobs.push(
        this.write(m, 'EndpointSlice', 'apply', nsName(s), () => m.client.apply(s, MCS_FIELD_MANAGER)),
      );
    }
    for (const [k, have] of haveSlices) {
      if (wantSlices.has(k) || have.metadata.deletionTimestamp) continue;
      jobs.push(
        this.write(m, 'EndpointSlice', 'delete', k, () =>
          m.client.delete({
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: have.metadata,
          }),
        ),
      );
    }

    const haveServices = new Map(
      m.services
        .list()
        .filter((s) => s.metadata.labels?.[LABEL_APP_MANAGED_BY] === MCS_CONTROLLER_ID)
        .map((s) => [nsName(s), s]),
    );
    const wantServices = new Set(want.services.map(nsName));
    for (const s of want.services) {
      const have = haveServices.get(nsName(s));
      const action = derivedServiceAction(have, s);
      if (action === 'keep') continue;
      jobs.push(
        action === 'recreate' && have
          ? // The next pass creates it again with the new family (and a new IP).
            this.write(m, 'Service', 'delete', nsName(s), () =>
              m.client.delete({ apiVersion: 'v1', kind: 'Service', metadata: have.metadata }),
            )
          : this.write(m, 'Service', 'apply', nsName(s), () => m.client.apply<Service>(s, MCS_FIELD_MANAGER)),
      );
    }
    for (const [k, have] of haveServices) {
      if (wantServices.has(k) || have.metadata.deletionTimestamp) continue;
      jobs.push(
        this.write(m, 'Service', 'delete', k, () =>
          m.client.delete({ apiVersion: 'v1', kind: 'Service', metadata: have.metadata }),
        ),
      );
    }

    const exports = new Map(m.exports.list().map((e) => [nsName(e), e]));
    for (const st of want.exportStatuses) {
      const have = exports.get(namespacedKey(st.namespace, st.name));
      if (!have || !conditionsDiffer(have.status?.conditions, st.conditions)) continue;
      jobs.push(
        this.write(m, 'ServiceExport', 'status', namespacedKey(st.namespace, st.name), () =>
          this.applyStatus(
            m,
            {
              apiVersion: MCS_API_VERSION,
              kind: 'ServiceExport',
              metadata: { name: st.name, namespace: st.namespace },
            },
            { conditions: st.conditions },
          ),
        ),
      );
    }
    await Promise.all(jobs);
  }
}
