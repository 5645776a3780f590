/**
 * The sandbox topology file (`--topology FILE`): which clusters, and which nodes each has.
 *
 *   clusters:
 *     - name: host
 *       nodes:
 *         - {count: 2, namePrefix: host-node, cpu: "1", memory: 2Gi}
 *     - name: leaf-1
 *       nodes:
 *         - {count: 1, runtime: containerd}
 *         - {count: 6, cpu: 1500m, memory: 4Gi, pods: 110}
 *
 * A group without `runtime` is simulated by kwok: cpu, memory, pods, ephemeral-storage and any
 * extended resource (a key with a "/", such as nvidia.com/gpu) become the node's capacity and
 * allocatable, and nothing runs. A group with `runtime: containerd` is made of real nodes: each
 * its own network namespace on the sandbox's underlay, with containerd, runc, a kubelet and
 * kube-proxy; its capacity is what the kubelet finds (the machine's), so capacity keys are refused.
 */
import { parse } from 'yaml';
import type { Taint } from '../../api/core.js';
import { formatFieldError, invalid, required, unsupported, type FieldError } from '../../api/field-errors.js';
import { UserError } from '../../common/errors.js';

export const HOST_CLUSTER = 'host';

/** How a sandbox node runs: simulated by kwok, or a real kubelet with containerd. */
export const NODE_RUNTIMES = ['kwok', 'containerd'] as const;
export type NodeRuntime = (typeof NODE_RUNTIMES)[number];

export interface SandboxNode {
  name: string;
  runtime: NodeRuntime;
  capacity: Record<string, string>;
  labels: Record<string, string>;
  taints: Taint[];
}

export interface SandboxCluster {
  name: string;
  index: number;
  podCIDR: string;
  serviceCIDR: string;
  nodes: SandboxNode[];
}

export interface Topology {
  clusters: SandboxCluster[];
}

const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GROUP_KEYS = new Set([
  'count',
  'name',
  'namePrefix',
  'cpu',
  'memory',
  'pods',
  'ephemeral-storage',
  'labels',
  'taints',
  'runtime',
]);
const CAPACITY_KEYS = ['cpu', 'memory', 'pods', 'ephemeral-storage'];
const DEFAULT_NODE = { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };

export const MAX_NODES_PER_CLUSTER = 2000;
/** Each real node costs about 130 MB (kubelet + containerd) before its pods. */
export const MAX_REAL_NODES_PER_CLUSTER = 16;

/**
 * The InternalIP of a sandbox node: unique across the sandbox (ClusterLink refuses two
 * nodes with one underlay address), from 198.18.0.0/15, the range reserved for network
 * benchmarks, with 2048 addresses per cluster. Nothing is ever sent to it: the nodes are
 * simulated, and the apiserver reaches kwok through the Hostname address (localhost).
 */
export function nodeIP(clusterIndex: number, nodeIndex: number): string {
  const n = (198 << 24) + (18 << 16) + clusterIndex * 2048 + nodeIndex + 1;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The underlay's own address in the root network namespace: the real nodes' default gateway and
 * the address the apiservers serve on, so pods and kubelets reach them. Above every nodeIP.
 */
export const UNDERLAY_GATEWAY = '198.19.255.254';
export const UNDERLAY_PREFIX = 15;

/**
 * The pod CIDR of the `ordinal`-th real node of a cluster: a /24 from the top of the cluster's
 * pod range, set on the Node before its kubelet registers; kube-controller-manager allocates the
 * simulated nodes' ranges from the bottom and skips ranges already taken.
 */
export function realNodePodCIDR(clusterIndex: number, ordinal: number): string {
  if (ordinal > 255) throw new UserError('the sandbox supports at most 256 real nodes per cluster');
  return `10.${33 + 2 * clusterIndex}.${255 - ordinal}.0/24`;
}

/** The `kubernetes` Service's address: the first of the service range, as the apiserver picks it. */
export function kubernetesServiceIP(serviceCIDR: string): string {
  const [a, b] = serviceCIDR.split('.');
  return `${a}.${b}.0.1`;
}

/** The cluster DNS Service's address: the tenth of the service range, as kubeadm picks it. */
export function clusterDNSIP(serviceCIDR: string): string {
  const [a, b] = serviceCIDR.split('.');
  return `${a}.${b}.0.10`;
}

/** Pod and service CIDRs per cluster index: disjoint, so ClusterLink needs no global map. */
export function cidrsFor(index: number): { podCIDR: string; serviceCIDR: string } {
  if (index > 47) throw new UserError('the sandbox supports at most 48 clusters');
  return { podCIDR: `10.${32 + 2 * index}.0.0/15`, serviceCIDR: `10.${index}.0.0/16` };
}

/**
 * Host plus `leaves` leaf clusters, each with `realNodes` real nodes (named <cluster>-node-0…)
 * followed by `simulatedNodes` kwok nodes.
 */
export function defaultTopology(leaves = 2, simulatedNodes = 0, realNodes = 1): Topology {
  const names = [HOST_CLUSTER, ...Array.from({ length: leaves }, (_, i) => `leaf-${i + 1}`)];
  return parseTopologyObject({
    clusters: names.map((name) => ({
      name,
      nodes: [
        ...(realNodes > 0 ? [{ count: realNodes, runtime: 'containerd' }] : []),
        ...(simulatedNodes > 0
          ? [{ count: simulatedNodes, ...(realNodes > 0 ? { namePrefix: `${name}-sim` } : {}) }]
          : []),
      ],
    })),
  });
}

/** Whether any cluster of the topology has a real node (and so the sandbox needs its underlay). */
export function hasRealNodes(t: Topology): boolean {
  return t.clusters.some((c) => c.nodes.some((n) => n.runtime !== 'kwok'));
}

export function parseTopology(text: string, source = 'topology'): Topology {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UserError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseTopologyObject(doc, source);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseTopologyObject(doc: unknown, source = 'topology'): Topology {
  const errors: FieldError[] = [];
  const clusters: SandboxCluster[] = [];
  if (!isRecord(doc) || !Array.isArray(doc['clusters']) || doc['clusters'].length === 0) {
    throw new UserError(
      `${source}: ${formatFieldError(required('clusters', 'a list of at least one cluster'))}`,
    );
  }
  const seenClusters = new Set<string>();
  (doc['clusters'] as unknown[]).forEach((raw, ci) => {
    const path = `clusters[${ci}]`;
    if (!isRecord(raw)) {
      errors.push(invalid(path, raw, 'must be a mapping'));
      return;
    }
    const name = raw['name'];
    if (typeof name !== 'string' || !DNS_LABEL.test(name)) {
      errors.push(invalid(`${path}.name`, name, 'must be a DNS label (lower-case letters, digits, "-")'));
      return;
    }
    if (seenClusters.has(name))
      errors.push({ field: `${path}.name`, type: 'Duplicate', value: name, detail: '' });
    seenClusters.add(name);
    const nodes: SandboxNode[] = [];
    const groups = raw['nodes'] ?? [{ count: 3 }];
    if (!Array.isArray(groups)) {
      errors.push(invalid(`${path}.nodes`, groups, 'must be a list'));
      return;
    }
    groups.forEach((g, gi) => nodes.push(...parseGroup(g, `${path}.nodes[${gi}]`, name, errors)));
    const names = new Set<string>();
    for (const n of nodes) {
      if (names.has(n.name))
        errors.push({
          field: `${path}.nodes`,
          type: 'Duplicate',
          value: n.name,
          detail: 'node names must be unique',
        });
      names.add(n.name);
    }
    const realCount = nodes.filter((n) => n.runtime !== 'kwok').length;
    if (realCount > MAX_REAL_NODES_PER_CLUSTER) {
      errors.push(
        invalid(`${path}.nodes`, realCount, `at most ${MAX_REAL_NODES_PER_CLUSTER} real nodes per cluster`),
      );
    }
    if (nodes.length > MAX_NODES_PER_CLUSTER) {
      errors.push(
        invalid(`${path}.nodes`, nodes.length, `at most ${MAX_NODES_PER_CLUSTER} nodes per cluster`),
      );
    }
    const cidrs = cidrsFor(clusters.length);
    clusters.push({ name, index: clusters.length, nodes, ...cidrs });
  });
  if (errors.length === 0 && !clusters.some((c) => c.name === HOST_CLUSTER)) {
    errors.push(required('clusters', `one cluster must be named "${HOST_CLUSTER}"`));
  }
  if (errors.length > 0) throw new UserError(`${source}: ${errors.map(formatFieldError).join('; ')}`);
  // The host first, so its index (and CIDRs) are stable whatever the file's order.
  clusters.sort((a, b) => (a.name === HOST_CLUSTER ? -1 : b.name === HOST_CLUSTER ? 1 : a.index - b.index));
  clusters.forEach((c, i) => Object.assign(c, { index: i }, cidrsFor(i)));
  return { clusters };
}

function parseGroup(g: unknown, path: string, cluster: string, errors: FieldError[]): SandboxNode[] {
  if (!isRecord(g)) {
    errors.push(invalid(path, g, 'must be a mapping'));
    return [];
  }
  for (const key of Object.keys(g)) {
    if (!GROUP_KEYS.has(key) && !key.includes('/')) {
      errors.push(
        unsupported(`${path}.${key}`, key, [...GROUP_KEYS, '<extended resource such as nvidia.com/gpu>']),
      );
    }
  }
  const runtime = g['runtime'] ?? 'kwok';
  if (typeof runtime !== 'string' || !(NODE_RUNTIMES as readonly string[]).includes(runtime)) {
    errors.push(unsupported(`${path}.runtime`, runtime, [...NODE_RUNTIMES]));
    return [];
  }
  if (runtime !== 'kwok') {
    for (const key of Object.keys(g)) {
      if (CAPACITY_KEYS.includes(key) || key.includes('/')) {
        errors.push(
          invalid(
            `${path}.${key}`,
            g[key],
            `a node with runtime ${runtime} has the capacity its kubelet finds; only simulated (kwok) nodes take capacity`,
          ),
        );
      }
    }
  }
  const count = g['count'] ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_NODES_PER_CLUSTER) {
    errors.push(invalid(`${path}.count`, count, `must be an integer from 1 to ${MAX_NODES_PER_CLUSTER}`));
    return [];
  }
  const single = g['name'];
  if (single !== undefined && (typeof single !== 'string' || !DNS_SUBDOMAIN.test(single))) {
    errors.push(invalid(`${path}.name`, single, 'must be a DNS subdomain'));
    return [];
  }
  if (single !== undefined && count !== 1) {
    errors.push(invalid(`${path}.count`, count, 'must be 1 when name is set'));
    return [];
  }
  const prefix = g['namePrefix'] ?? `${cluster}-node`;
  if (typeof prefix !== 'string' || !DNS_SUBDOMAIN.test(prefix)) {
    errors.push(invalid(`${path}.namePrefix`, prefix, 'must be a DNS subdomain'));
    return [];
  }
  const capacity: Record<string, string> = { ...DEFAULT_NODE };
  for (const [key, value] of Object.entries(g)) {
    if (!(CAPACITY_KEYS.includes(key) || key.includes('/'))) continue;
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || !QUANTITY.test(text)) {
      errors.push(invalid(`${path}.${key}`, value, 'must be a resource quantity such as 1500m, 2, 4Gi'));
      continue;
    }
    capacity[key] = text;
  }
  const labels = g['labels'] ?? {};
  if (!isRecord(labels) || !Object.values(labels).every((v) => typeof v === 'string')) {
    errors.push(invalid(`${path}.labels`, labels, 'must map label keys to string values'));
    return [];
  }
  const taints = g['taints'] ?? [];
  if (!Array.isArray(taints)) {
    errors.push(invalid(`${path}.taints`, taints, 'must be a list of {key, value, effect}'));
    return [];
  }
  const parsedTaints: Taint[] = [];
  taints.forEach((t, ti) => {
    const effects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
    if (!isRecord(t) || typeof t['key'] !== 'string') {
      errors.push(required(`${path}.taints[${ti}].key`));
    } else if (!effects.includes(String(t['effect']))) {
      errors.push(unsupported(`${path}.taints[${ti}].effect`, t['effect'], effects));
    } else {
      parsedTaints.push({
        key: t['key'],
        ...(typeof t['value'] === 'string' ? { value: t['value'] } : {}),
        effect: t['effect'] as Taint['effect'],
      });
    }
  });
  const names = single !== undefined ? [single] : Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  return names.map((name) => ({
    name,
    runtime: runtime as NodeRuntime,
    capacity: runtime === 'kwok' ? { ...capacity } : {},
    labels: { ...(labels as Record<string, string>) },
    taints: parsedTaints.map((t) => ({ ...t })),
  }));
}
