/**
 * Server-side apply of rendered objects, readiness waits and exact deletion: the I/O half
 * of install, uninstall, join and unjoin.
 */
import type { KubeObject } from '../../api/meta.js';
import { KosmosError, UserError, describeError } from '../../common/errors.js';
import { isNotFound, type KubeClient } from '../../common/kube.js';
import { manifestKey } from './render.js';
import type { Progress } from './progress.js';
import { FIELD_MANAGER } from './values.js';

export interface ApplyReport {
  applied: string[];
  /** Namespaced objects the server could not check in a dry run because their namespace is not there yet. */
  unchecked: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function namespaceExists(client: KubeClient, name: string): Promise<boolean> {
  return (await client.getOrUndefined('v1', 'Namespace', name)) !== undefined;
}

/**
 * Applies in the given order. In a dry run nothing is created, so objects in a namespace
 * that does not exist yet cannot be checked by the server (it answers 404 for the
 * namespace): they are reported instead of failing the run.
 */
export async function applyObjects(
  client: KubeClient,
  objects: KubeObject[],
  opts: { dryRun: boolean; progress: Progress; fieldManager?: string },
): Promise<ApplyReport> {
  const report: ApplyReport = { applied: [], unchecked: [] };
  const missing = new Map<string, boolean>();
  let n = 0;
  for (const obj of objects) {
    n++;
    const key = manifestKey(obj);
    const ns = obj.metadata?.namespace;
    if (opts.dryRun && ns && obj.kind !== 'Namespace') {
      if (!missing.has(ns)) missing.set(ns, !(await namespaceExists(client, ns)));
      if (missing.get(ns)) {
        report.unchecked.push(key);
        continue;
      }
    }
    try {
      await client.apply(obj, opts.fieldManager ?? FIELD_MANAGER, { dryRun: opts.dryRun, force: true });
    } catch (e) {
      throw new UserError(`applying ${key}${opts.dryRun ? ' (dry run)' : ''}: ${describeError(e)}`, {
        cause: e,
      });
    }
    report.applied.push(key);
    if (n % 10 === 0 || n === objects.length)
      opts.progress(`${opts.dryRun ? 'checked' : 'applied'} ${n}/${objects.length} objects`);
  }
  return report;
}

interface WorkloadStatus {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    numberAvailable?: number;
    updatedNumberScheduled?: number;
  };
}

/** "2/2" when ready, undefined while not: the rollout of the current spec has completed. */
export function workloadReadiness(kind: string, w: WorkloadStatus): { ready: boolean; text: string } {
  const s = w.status ?? {};
  const current = (s.observedGeneration ?? 0) >= (w.metadata?.generation ?? 1);
  if (kind === 'DaemonSet') {
    const want = s.desiredNumberScheduled ?? 0;
    const have = Math.min(s.numberAvailable ?? 0, s.updatedNumberScheduled ?? 0);
    return { ready: current && have >= want, text: `${have}/${want}` };
  }
  const want = w.spec?.replicas ?? 1;
  const have = Math.min(s.availableReplicas ?? 0, s.updatedReplicas ?? 0);
  return { ready: current && have >= want && (s.replicas ?? 0) <= want, text: `${have}/${want}` };
}

/** Waits until every Deployment and DaemonSet among objects has rolled out, printing what it waits for. */
export async function waitForWorkloads(
  client: KubeClient,
  objects: KubeObject[],
  opts: { timeoutMs: number; progress: Progress; intervalMs?: number },
): Promise<void> {
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');
  const deadline = Date.now() + opts.timeoutMs;
  let lastLine = '';
  for (;;) {
    const waiting: string[] = [];
    for (const w of workloads) {
      const live = await client.getOrUndefined<KubeObject & WorkloadStatus>(
        w.apiVersion ?? 'apps/v1',
        w.kind ?? '',
        w.metadata?.name ?? '',
        w.metadata?.namespace,
      );
      const r = live ? workloadReadiness(w.kind ?? '', live) : { ready: false, text: 'missing' };
      if (!r.ready) waiting.push(`${w.metadata?.name} ${r.text}`);
    }
    if (waiting.length === 0) {
      opts.progress(`${workloads.length} workloads ready`);
      return;
    }
    const line = `waiting for ${waiting.join(', ')}`;
    if (line !== lastLine) opts.progress(line);
    lastLine = line;
    if (Date.now() > deadline)
      throw new UserError(`timed out after ${Math.round(opts.timeoutMs / 1000)} s ${line}`);
    await sleep(opts.intervalMs ?? 1000);
  }
}

/**
 * Deletes objects in reverse apply order (webhooks first, namespace last) and waits until
 * they are gone, so a following install or join starts clean.
 */
export async function deleteObjects(
  client: KubeClient,
  objects: KubeObject[],
  opts: { timeoutMs: number; progress: Progress; intervalMs?: number },
): Promise<void> {
  const reversed = [...objects].reverse();
  for (const obj of reversed) {
    try {
      await client.delete(obj, { propagationPolicy: 'Foreground' });
    } catch (e) {
      // A CRD that is not installed has no resource to delete from.
      if (e instanceof KosmosError && /has no resource for kind/.test(e.message)) continue;
      throw new UserError(`deleting ${manifestKey(obj)}: ${describeError(e)}`, { cause: e });
    }
  }
  opts.progress(`deleted ${reversed.length} objects, waiting until they are gone`);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const left: string[] = [];
    for (const obj of reversed) {
      try {
        const live = await client.getOrUndefined(
          obj.apiVersion ?? '',
          obj.kind ?? '',
          obj.metadata?.name ?? '',
          obj.metadata?.namespace,
        );
        if (live) left.push(manifestKey(obj));
      } catch (e) {
        if (isNotFound(e) || (e instanceof KosmosError && /has no resource for kind/.test(e.message)))
          continue;
        throw e;
      }
    }
    if (left.length === 0) return;
    if (Date.now() > deadline)
      throw new UserError(
        `timed out waiting for ${left.length} object(s) to go: ${left.slice(0, 5).join(', ')}${left.length > 5 ? ', …' : ''}`,
      );
    await sleep(opts.intervalMs ?? 1000);
  }
}
