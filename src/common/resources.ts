/**
 * Resource accounting as kube-scheduler does it, in one place: the extender's placement and
 * ClusterTree's virtual-node capacity count a pod the same way. Amounts are plain numbers in
 * the scheduler's units (milli-cpu, bytes, counts).
 */
import type { Container, Node, Pod, ResourceList } from '../api/core.js';
import { formatResource, parseResource } from './quantity.js';

export type Resources = Record<string, number>;

export function toResources(list: ResourceList | undefined): Resources {
  const out: Resources = {};
  for (const [k, v] of Object.entries(list ?? {})) out[k] = parseResource(k, v);
  return out;
}

/** Quantity strings (never negative), keys sorted: ready for a Node's status. */
export function toQuantities(r: Resources): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = formatResource(k, Math.max(0, r[k] ?? 0));
  return out;
}

export function addResources(into: Resources, from: Resources): Resources {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

function maxResources(into: Resources, from: Resources): Resources {
  for (const [k, v] of Object.entries(from)) into[k] = Math.max(into[k] ?? 0, v);
  return into;
}

/**
 * A container's requests. A limit without a request counts as the request: the apiserver
 * defaults a missing request to its limit, so a pod not (yet) through it counts the same.
 */
function containerRequests(c: Container): Resources {
  return toResources({ ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) });
}

/**
 * A pod's effective requests as kube-scheduler counts them (k8s.io/component-helpers
 * PodRequests): the app containers plus the sidecars (restartable init containers, which
 * run for the pod's whole life), at least the peak of the init phase (each one-shot init
 * container beside the sidecars started before it), plus the pod overhead, plus one pod slot.
 */
export function podRequests(pod: Pod): Resources {
  const steady: Resources = {};
  for (const c of pod.spec.containers ?? []) addResources(steady, containerRequests(c));
  const sidecars: Resources = {};
  const initPeak: Resources = {};
  for (const c of pod.spec.initContainers ?? []) {
    const req = containerRequests(c);
    if (c['restartPolicy'] === 'Always') {
      addResources(sidecars, req);
      addResources(steady, req);
    } else {
      maxResources(initPeak, addResources({ ...sidecars }, req));
    }
  }
  const total = maxResources(steady, initPeak);
  addResources(total, toResources(pod.spec.overhead));
  total['pods'] = 1;
  return total;
}

/** A pod that finished holds nothing on its node any more. */
export function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

export function nodeReady(node: Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** A node the scheduler may place new pods on: Ready and not cordoned. */
export function nodeUsable(node: Node): boolean {
  return !node.spec?.unschedulable && nodeReady(node);
}
