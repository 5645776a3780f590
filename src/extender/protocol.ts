/**
 * k8s.io/kube-scheduler/extender/v1 wire types. The Go structs have no json tags, so keys
 * are the Go field names (PascalCase); nested Kubernetes objects keep their camelCase.
 * Go decodes keys case-insensitively, so requests are read that way too.
 */
import type { Node, Pod } from '../api/core.js';
import { BadRequest } from '../common/errors.js';

export { BadRequest };

export const MAX_EXTENDER_PRIORITY = 10;
export const MIN_EXTENDER_PRIORITY = 0;

export interface ExtenderArgs {
  Pod: Pod;
  Nodes: { items: Node[] } | null;
  NodeNames: string[] | null;
}

export interface ExtenderFilterResult {
  Nodes: { items: Node[] } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

export interface HostPriority {
  Host: string;
  Score: number;
}

export interface ExtenderBindingArgs {
  PodName: string;
  PodNamespace: string;
  PodUID: string;
  Node: string;
}

export interface ExtenderBindingResult {
  Error: string;
}

export interface MetaVictims {
  Pods: { UID: string }[];
  NumPDBViolations: number;
}

export interface ExtenderPreemptionArgs {
  Pod: Pod;
  /** Set when the scheduler is nodeCacheCapable. */
  NodeNameToMetaVictims: Record<string, MetaVictims> | null;
  /** Set otherwise: full victim pods. */
  NodeNameToVictims: Record<string, { Pods: Pod[]; NumPDBViolations: number }> | null;
}

export interface ExtenderPreemptionResult {
  NodeNameToMetaVictims: Record<string, MetaVictims>;
}

function field(body: Record<string, unknown>, name: string): unknown {
  if (name in body) return body[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(body)) if (k.toLowerCase() === lower) return body[k];
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates an ExtenderArgs body; throws BadRequest with a one-line reason. */
export function parseExtenderArgs(body: unknown): ExtenderArgs {
  if (!isObject(body)) throw new BadRequest('request body must be a JSON object (ExtenderArgs)');
  const pod = field(body, 'Pod');
  if (!isObject(pod)) throw new BadRequest('ExtenderArgs.Pod is missing');
  if (!isObject(pod['metadata'])) throw new BadRequest('ExtenderArgs.Pod.metadata is missing');
  if (!isObject(pod['spec'])) throw new BadRequest('ExtenderArgs.Pod.spec is missing');
  const names = field(body, 'NodeNames');
  const nodes = field(body, 'Nodes');
  if (names !== undefined && names !== null) {
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw new BadRequest('ExtenderArgs.NodeNames must be an array of strings');
    }
    return { Pod: pod as unknown as Pod, Nodes: null, NodeNames: names as string[] };
  }
  if (nodes !== undefined && nodes !== null) {
    if (!isObject(nodes) || !Array.isArray(nodes['items']))
      throw new BadRequest('ExtenderArgs.Nodes.items must be an array');
    return { Pod: pod as unknown as Pod, Nodes: { items: nodes['items'] as Node[] }, NodeNames: null };
  }
  throw new BadRequest('ExtenderArgs has neither NodeNames nor Nodes');
}

export function parseBindingArgs(body: unknown): ExtenderBindingArgs {
  if (!isObject(body)) throw new BadRequest('request body must be a JSON object (ExtenderBindingArgs)');
  const out: Record<string, string> = {};
  for (const k of ['PodName', 'PodNamespace', 'PodUID', 'Node']) {
    const v = field(body, k);
    if (typeof v !== 'string' || (k !== 'PodUID' && v === ''))
      throw new BadRequest(`ExtenderBindingArgs.${k} is missing`);
    out[k] = v;
  }
  return out as unknown as ExtenderBindingArgs;
}

/** Validates an ExtenderPreemptionArgs body and returns the candidates as meta victims (UIDs). */
export function parsePreemptionArgs(body: unknown): { pod: Pod; candidates: Record<string, MetaVictims> } {
  if (!isObject(body)) throw new BadRequest('request body must be a JSON object (ExtenderPreemptionArgs)');
  const pod = field(body, 'Pod');
  if (!isObject(pod) || !isObject(pod['metadata']) || !isObject(pod['spec']))
    throw new BadRequest('ExtenderPreemptionArgs.Pod is missing');
  const meta = field(body, 'NodeNameToMetaVictims');
  const full = field(body, 'NodeNameToVictims');
  const candidates: Record<string, MetaVictims> = {};
  if (isObject(meta)) {
    for (const [node, v] of Object.entries(meta)) {
      if (!isObject(v) || !Array.isArray(v['Pods']))
        throw new BadRequest(`NodeNameToMetaVictims[${node}].Pods must be an array`);
      candidates[node] = {
        Pods: (v['Pods'] as { UID: string }[]).map((p) => ({ UID: String(p.UID) })),
        NumPDBViolations: Number(v['NumPDBViolations'] ?? 0),
      };
    }
  } else if (isObject(full)) {
    for (const [node, v] of Object.entries(full)) {
      if (!isObject(v) || !Array.isArray(v['Pods']))
        throw new BadRequest(`NodeNameToVictims[${node}].Pods must be an array`);
      candidates[node] = {
        Pods: (v['Pods'] as Pod[]).map((p) => ({ UID: p.metadata?.uid ?? '' })),
        NumPDBViolations: Number(v['NumPDBViolations'] ?? 0),
      };
    }
  } else
    throw new BadRequest('ExtenderPreemptionArgs has neither NodeNameToMetaVictims nor NodeNameToVictims');
  return { pod: pod as unknown as Pod, candidates };
}
