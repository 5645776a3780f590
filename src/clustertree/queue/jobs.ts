/**
 * ClusterTree's BullMQ jobs. Every job names an object, never carries its state: handlers
 * read the current state from the apiservers, so running a job twice, late, or after a
 * newer one is harmless. Job ids deduplicate the same event seen by several worker
 * processes: they name the object and the resourceVersion (or time bucket) that caused it.
 * `rv`, when set, is the resourceVersion of the event (host pod for `pod`, leaf pod for
 * `status`): a handler may use its watch cache only if the cache holds exactly that version,
 * otherwise it reads the apiserver (another process's cache may be behind).
 * BullMQ allows a ':' in custom ids only with exactly three parts, hence `type:cluster:rest`.
 */
import type { DependencyKind } from '../transform/dependencies.js';

export type JobData =
  | { type: 'pod'; cluster: string; namespace: string; name: string; rv?: string }
  | { type: 'status'; cluster: string; namespace: string; name: string; rv?: string }
  | { type: 'deps'; cluster: string; namespace: string; kind: DependencyKind; name: string }
  | { type: 'pv'; cluster: string; name: string }
  | { type: 'services'; cluster: string; namespace: string }
  | { type: 'node'; cluster: string }
  | { type: 'cluster-gone'; cluster: string };

export type JobType = JobData['type'];

const clean = (s: string): string => s.replace(/:/g, '_');

export function jobId(data: JobData, cause: string): string {
  switch (data.type) {
    case 'pod':
    case 'status':
      return `${data.type}:${clean(data.cluster)}:${data.namespace}/${data.name}@${clean(cause)}`;
    case 'deps':
      return `deps:${clean(data.cluster)}:${data.namespace}/${data.kind}/${data.name}@${clean(cause)}`;
    case 'pv':
      return `pv:${clean(data.cluster)}:${data.name}@${clean(cause)}`;
    case 'services':
      return `services:${clean(data.cluster)}:${data.namespace}@${clean(cause)}`;
    case 'node':
    case 'cluster-gone':
      return `${data.type}:${clean(data.cluster)}:${clean(cause)}`;
  }
}
