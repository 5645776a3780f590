/**
 * Resource amounts as plain numbers in the scheduler's units (milli-cpu, bytes, counts), and
 * a pod's effective requests computed the way kube-scheduler and `kubectl describe node` do.
 */
import type { Container, Pod, ResourceList } from '../../api/core.js';
import { formatResource, parseResource } from '../../common/quantity.js';

export type Resources = Record<string, number>;

export function toResources(list: ResourceList | undefined): Resources {
  const out: Resources = {};
  for (const [k, v] of Object.entries(list ?? {})) out[k] = parseResource(k, v);
  return out;
}

export function toQuantities(r: Resources): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = formatResource(k, Math.max(0, r[k] ?? 0));
  return out;
}

export function add(into: Resources, from: Resources): Resources {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

function max(into: Resources, from: Resources): Resources {
  for (const [k, v] of Object.entries(from)) into[k] = Math.max(into[k] ?? 0, v);
  return into;
}

const containerRequests = (c: Container): Resources => toResources(c.resources?.requests);

/**
 * max(sum of app containers + restartable init containers, largest one-shot init container
 * running beside the sidecars started before it) + overhead. A pod with no requests counts 0.
 */
export function podRequests(pod: Pod): Resources {
  const sum: Resources = {};
  for (const c of pod.spec.containers ?? []) add(sum, containerRequests(c));
  const sidecars: Resources = {};
  const initPeak: Resources = {};
  for (const c of pod.spec.initContainers ?? []) {
    const req = containerRequests(c);
    if (c['restartPolicy'] === 'Always') {
      add(sidecars, req);
      add(sum, req);
    } else {
      max(initPeak, add({ ...sidecars }, req));
    }
  }
  const total = max(sum, initPeak);
  return add(total, toResources(pod.spec.overhead));
}

export function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}
