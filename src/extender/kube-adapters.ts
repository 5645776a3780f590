/**
 * Writes to the host apiserver: the pod Binding (bind verb) and the Event that explains an
 * unschedulable pod. Thin on purpose; the decisions are made elsewhere.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_SCHEDULER_NAME } from '../api/constants.js';
import { KosmosError } from '../common/errors.js';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface PodBinder {
  /** Bind the pod; succeeds again if the pod is already bound to that node (retry-safe). */
  bind(pod: PodRef, node: string): Promise<void>;
}

export interface EventRecorder {
  /** A Warning Event on the pod saying why no node fits. */
  unschedulable(pod: PodRef, message: string): void;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export class KubeBinder implements PodBinder {
  private readonly core: CoreV1Api;
  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async bind(pod: PodRef, node: string): Promise<void> {
    try {
      await this.core.createNamespacedBinding({
        namespace: pod.namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name: pod.name, namespace: pod.namespace, ...(pod.uid ? { uid: pod.uid } : {}) },
          target: { apiVersion: 'v1', kind: 'Node', name: node },
        },
      });
    } catch (err) {
      if (statusOf(err) === 409) {
        // A retried bind whose first attempt went through (its answer was lost): same node is success.
        const current = await this.core.readNamespacedPod({ namespace: pod.namespace, name: pod.name });
        if (current.spec?.nodeName === node) return;
        throw new KosmosError(
          `pod ${pod.namespace}/${pod.name} is already bound to ${current.spec?.nodeName ?? '?'}, not ${node}`,
        );
      }
      throw new KosmosError(
        `binding pod ${pod.namespace}/${pod.name} to ${node}: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  }
}

/** Events, at most one per pod and message per interval, so a pod in backoff does not flood. */
export class KubeEventRecorder implements EventRecorder {
  private readonly core: CoreV1Api;
  private readonly recent = new Map<string, number>();
  constructor(
    kc: KubeConfig,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly intervalMs = 30_000,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  unschedulable(pod: PodRef, message: string): void {
    const now = Date.now();
    const key = `${pod.uid}\u0000${message}`;
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.intervalMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) {
      for (const [k, t] of this.recent) if (now - t >= this.intervalMs) this.recent.delete(k);
    }
    const time = new Date(now);
    this.core
      .createNamespacedEvent({
        namespace: pod.namespace,
        body: {
          metadata: { generateName: `${pod.name}.`, namespace: pod.namespace },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: pod.name,
            namespace: pod.namespace,
            uid: pod.uid,
          },
          type: 'Warning',
          reason: 'KosmosPlacementFailed',
          message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
          source: { component: `${DEFAULT_SCHEDULER_NAME}-extender` },
          reportingComponent: `${DEFAULT_SCHEDULER_NAME}-extender`,
          reportingInstance: process.env['HOSTNAME'] ?? 'local',
          firstTimestamp: time,
          lastTimestamp: time,
          count: 1,
        },
      })
      .catch(this.onError);
  }
}
