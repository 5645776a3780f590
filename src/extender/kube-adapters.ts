/**
 * Writes to the host apiserver: the pod Binding (bind verb) and the Event that explains an
 * unschedulable pod. Thin on purpose; the decisions are made elsewhere.
 *
 * Both go through the project's keep-alive KubeClient: the scheduler binds many pods in
 * parallel, and a client that opens a TLS connection per request made each bind take
 * hundreds of milliseconds under a burst (measured by `npm run bench`, suite scheduling).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_SCHEDULER_NAME } from '../api/constants.js';
import type { Pod } from '../api/core.js';
import { KosmosError } from '../common/errors.js';
import { KubeApiError, KubeClient } from '../common/kube.js';

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
  return err instanceof KubeApiError ? err.status : undefined;
}

const podPath = (pod: Pick<PodRef, 'namespace' | 'name'>) =>
  `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}`;

export class KubeBinder implements PodBinder {
  private readonly client: KubeClient;
  constructor(kc: KubeConfig | KubeClient) {
    this.client = kc instanceof KubeClient ? kc : new KubeClient(kc);
  }

  async bind(pod: PodRef, node: string): Promise<void> {
    try {
      await this.client.request('POST', `${podPath(pod)}/binding`, {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.name, namespace: pod.namespace, ...(pod.uid ? { uid: pod.uid } : {}) },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
    } catch (err) {
      if (statusOf(err) === 409) {
        // A retried bind whose first attempt went through (its answer was lost): same node is success.
        const current = await this.client.request<Pod>('GET', podPath(pod));
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
  private readonly client: KubeClient;
  private readonly recent = new Map<string, number>();
  constructor(
    kc: KubeConfig | KubeClient,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly intervalMs = 30_000,
  ) {
    this.client = kc instanceof KubeClient ? kc : new KubeClient(kc);
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
    const time = new Date(now).toISOString();
    this.client
      .request('POST', `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`, {
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
      })
      .catch(this.onError);
  }
}
