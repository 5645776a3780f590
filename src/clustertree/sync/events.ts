/**
 * Events ClusterTree writes on host objects. One Event per pod and cause, with a name
 * derived from the pod's uid: every worker that looks at the pod again (each change, each
 * resync) finds it exists, so a pod is told once, not once per job.
 */
import { FIELD_MANAGER } from '../../api/constants.js';
import type { Pod } from '../../api/core.js';
import { isAlreadyExists } from '../../common/kube.js';
import type { ClusterTreeContext } from './context.js';

const MAX_NAME_PREFIX = 200;

export async function podEventOnce(
  ctx: ClusterTreeContext,
  pod: Pod,
  event: { cause: string; reason: string; message: string; type?: 'Normal' | 'Warning' },
): Promise<void> {
  const ns = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? '';
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  try {
    await ctx.host.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${name.slice(0, MAX_NAME_PREFIX)}.${event.cause}-${uid}`, namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace: ns, uid },
      type: event.type ?? 'Warning',
      reason: event.reason,
      message: event.message,
      source: { component: `${FIELD_MANAGER}-clustertree` },
      reportingComponent: `${FIELD_MANAGER}-clustertree`,
      reportingInstance: ctx.workerId,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
    ctx.log.info('host pod left unsynced', { namespace: ns, name, reason: event.reason, cause: event.cause });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}
