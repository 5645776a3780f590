/**
 * k8s.io/kube-scheduler/extender/v1 wire types. The Go structs have no json tags, so keys
 * are the Go field names (PascalCase); nested Kubernetes objects keep their camelCase.
 * Go decodes keys case-insensitively, so requests are read that way too.
 */
import type { Node, Pod } from '../api/core.js';

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

export class BadRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
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
    if (!isObject(nodes) || !Array.isArray(nodes['items'])) throw new BadRequest('ExtenderArgs.Nodes.items must be an array');
    return { Pod: pod as unknown as Pod, Nodes: { items: nodes['items'] as Node[] }, NodeNames: null };
  }
  throw new BadRequest('ExtenderArgs has neither NodeNames nor Nodes');
}

export function parseBindingArgs(body: unknown): ExtenderBindingArgs {
  if (!isObject(body)) throw new BadRequest('request body must be a JSON object (ExtenderBindingArgs)');
  const out: Record<string, string> = {};
  for (const k of ['PodName', 'PodNamespace', 'PodUID', 'Node']) {
    const v = field(body, k);
    if (typeof v !== 'string' || (k !== 'PodUID' && v === '')) throw new BadRequest(`ExtenderBindingArgs.${k} is missing`);
    out[k] = v;
  }
  return out as unknown as ExtenderBindingArgs;
}
