/**
 * Keeps pod-deletion-cost on the pods of every WorkloadPolicy, so that when a Deployment
 * scales down the ReplicaSet controller removes pods in the order that keeps the policy's
 * per-cluster ratio (left alone it removes pods from the fullest node first, which turns
 * 3:6 scaled to 6 into 3:3). A periodic pass over the cache; patches only what differs.
 */
import { ANNOTATION_POD_DELETION_COST } from '../api/constants.js';
import { errorFields, type Logger } from '../common/logger.js';
import type { KubeClient } from '../common/kube.js';
import type { ExtenderCache } from './cache.js';
import { deletionCostChanges, type CostChange } from './placement/replica-ratio/deletion-cost.js';
import { namespacedKey } from '../common/object-key.js';

export interface DeletionCostWriter {
  stop(): void;
  /** One pass now (tests and shutdown). */
  pass(): Promise<number>;
}

export function startDeletionCostWriter(opts: {
  cache: ExtenderCache;
  client: KubeClient;
  log: Logger;
  intervalMs?: number;
}): DeletionCostWriter {
  const { cache, client, log } = opts;
  let running: Promise<number> | undefined;

  const patch = async (c: CostChange): Promise<void> => {
    const path = `/api/v1/namespaces/${encodeURIComponent(c.namespace)}/pods/${encodeURIComponent(c.name)}`;
    await client.request(
      'PATCH',
      path,
      { metadata: { annotations: { [ANNOTATION_POD_DELETION_COST]: c.cost } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
  };

  const pass = async (): Promise<number> => {
    let written = 0;
    for (const policy of cache.allWorkloadPolicies()) {
      const changes = deletionCostChanges(policy, cache.boundPodsOf(policy));
      for (const c of changes) {
        try {
          await patch(c);
          written++;
        } catch (err) {
          // A pod deleted meanwhile, or a conflict: the next pass sees the new state.
          log.debug('pod-deletion-cost not written', {
            pod: namespacedKey(c.namespace, c.name),
            ...errorFields(err),
          });
        }
      }
    }
    return written;
  };

  const tick = () => {
    if (running) return;
    running = pass()
      .catch((err: unknown) => {
        log.warn('deletion-cost pass failed', errorFields(err));
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, opts.intervalMs ?? 2_000);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    pass: async () => {
      if (running) await running;
      return await pass();
    },
  };
}
