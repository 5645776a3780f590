/**
 * Per-member-node free capacity of every leaf cluster, and the question the filter asks:
 * "does one member node this virtual node stands for have room for the whole pod?".
 *
 * Free = allocatable − requests of non-terminal pods bound to the node − reservations for
 * pods placed by the extender but not yet seen in the leaf. Members of a cluster are kept
 * sorted by free cpu (lazily, after changes), with the per-resource maximum alongside, so a
 * pod bigger than every node is rejected in O(resources), and a search stops at the first
 * node with less free cpu than requested: it visits only the nodes that could hold the
 * pod's cpu, never the whole cluster for a large pod.
 */
import type { Node, Taint } from '../../api/core.js';
import { formatResource, parseResource } from '../../common/quantity.js';
import { labelsContain, nodeSelectorMatches, toleratedBy } from '../../common/selectors.js';
import { labelSelectorMatches } from '../../common/selectors.js';
import type { FitAnswer, MemberConstraints, MemberScope, Resources } from '../placement/types.js';

interface MemberNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  usable: boolean;
  allocatable: Resources;
  used: Resources;
}

interface ClusterMembers {
  nodes: Map<string, MemberNode>;
  sorted: MemberNode[];
  maxFree: Resources;
  /** Membership or capacity changed: re-filter and re-sort. */
  dirty: boolean;
  /** Only usage changed: the order was repaired in place, the maxima need recomputing. */
  maxDirty: boolean;
}

/** What the index needs of a pod running in a leaf cluster. */
export interface MemberPod {
  uid: string;
  namespace: string;
  name: string;
  nodeName?: string;
  /** Succeeded or Failed pods hold nothing. */
  terminal: boolean;
  requests: Resources;
}

interface Held {
  cluster: string;
  node: string;
  requests: Resources;
  /** Holds only: epoch ms after which the hold is dropped if the pod never showed up. */
  expiresAt?: number;
}

const ORDER = ['cpu', 'memory', 'ephemeral-storage', 'pods'];

function free(m: MemberNode, r: string): number {
  return (m.allocatable[r] ?? 0) - (m.used[r] ?? 0);
}

function addTo(into: Resources, from: Resources, sign: 1 | -1): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + sign * v;
}

function nodeUsable(node: Node): boolean {
  if (node.spec?.unschedulable) return false;
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function eligible(m: MemberNode, c: MemberConstraints): boolean {
  if (!labelsContain(m.labels, c.nodeSelector)) return false;
  if (c.requiredTerms && !nodeSelectorMatches(c.requiredTerms, m.labels, m.name)) return false;
  for (const t of m.taints) if (!toleratedBy(c.tolerations, t)) return false;
  return true;
}

function inScope(m: MemberNode, scope: MemberScope): boolean {
  if (scope.kind === 'cluster') return true;
  if (scope.kind === 'node') return m.name === scope.name;
  return labelSelectorMatches(scope.selector, m.labels);
}

function fits(m: MemberNode, req: Resources): boolean {
  for (const r in req) {
    const want = req[r] as number;
    if (want > 0 && free(m, r) < want) return false;
  }
  return true;
}

function shortOf(r: string, want: number, largest: number): FitAnswer {
  if (r === 'pods') return { ok: false, reason: 'no member node has a free pod slot' };
  return {
    ok: false,
    reason: `no member node has ${formatResource(r, want)} ${r} free; largest ${formatResource(r, Math.max(largest, 0))}`,
  };
}

export class FitIndex {
  private readonly clusters = new Map<string, ClusterMembers>();
  private readonly pods = new Map<string, Held>();
  private readonly holds = new Map<string, Held>();
  private readonly tentative = new Map<string, string[]>();

  private members(cluster: string): ClusterMembers {
    let c = this.clusters.get(cluster);
    if (!c) {
      c = { nodes: new Map(), sorted: [], maxFree: {}, dirty: true, maxDirty: true };
      this.clusters.set(cluster, c);
    }
    return c;
  }

  private member(cluster: string, name: string): MemberNode {
    const c = this.members(cluster);
    let m = c.nodes.get(name);
    if (!m) {
      // A pod can arrive before its node; keep its usage on a placeholder until the node shows up.
      m = { name, labels: {}, taints: [], usable: false, allocatable: {}, used: {} };
      c.nodes.set(name, m);
      c.dirty = true;
    }
    return m;
  }

  hasCluster(cluster: string): boolean {
    const c = this.clusters.get(cluster);
    return c !== undefined && c.nodes.size > 0;
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()];
  }

  upsertNode(cluster: string, node: Node): void {
    const m = this.member(cluster, node.metadata?.name ?? '');
    m.labels = node.metadata?.labels ?? {};
    m.taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    m.usable = nodeUsable(node);
    const alloc: Resources = {};
    for (const [k, v] of Object.entries(node.status?.allocatable ?? {})) alloc[k] = parseResource(k, v);
    m.allocatable = alloc;
    this.members(cluster).dirty = true;
  }

  deleteNode(cluster: string, name: string): void {
    const c = this.clusters.get(cluster);
    if (c?.nodes.delete(name)) c.dirty = true;
  }

  /** Forget a whole leaf cluster (its Cluster object was deleted). */
  deleteCluster(cluster: string): void {
    this.clusters.delete(cluster);
    for (const [k, h] of this.pods) if (h.cluster === cluster) this.pods.delete(k);
    for (const [k, h] of this.holds) if (h.cluster === cluster) this.holds.delete(k);
  }

  private unaccount(key: string, map: Map<string, Held>): void {
    const h = map.get(key);
    if (!h) return;
    map.delete(key);
    const c = this.clusters.get(h.cluster);
    const m = c?.nodes.get(h.node);
    if (c && m) {
      addTo(m.used, h.requests, -1);
      this.moved(c, m);
    }
  }

  private account(key: string, map: Map<string, Held>, held: Held): void {
    map.set(key, held);
    const m = this.member(held.cluster, held.node);
    addTo(m.used, held.requests, 1);
    this.moved(this.members(held.cluster), m);
  }

  /**
   * A node's usage changed: repair the cpu order by moving just that node (O(members),
   * no sort), and recompute the maxima lazily. Pod churn and holds therefore cost little.
   */
  private moved(c: ClusterMembers, m: MemberNode): void {
    c.maxDirty = true;
    if (c.dirty || !m.usable) return;
    const arr = c.sorted;
    let i = arr.indexOf(m);
    if (i < 0) {
      c.dirty = true;
      return;
    }
    const f = free(m, 'cpu');
    while (i > 0 && free(arr[i - 1] as MemberNode, 'cpu') < f) {
      arr[i] = arr[i - 1] as MemberNode;
      i--;
    }
    while (i < arr.length - 1 && free(arr[i + 1] as MemberNode, 'cpu') > f) {
      arr[i] = arr[i + 1] as MemberNode;
      i++;
    }
    arr[i] = m;
  }

  /**
   * Filter-time holds: while a pod is between filter and bind, each leaf that passed keeps
   * room for it on the member node the filter found, so the next pod of a burst cannot be
   * promised the same chunk (the scheduler starts the next pod before this one's bind).
   * Replaced on every filter of the same pod; dropped at bind (for all but the chosen leaf,
   * which gets a bind-time hold instead) or when they expire.
   */
  holdTentatively(
    uid: string,
    placements: readonly { cluster: string; node: string }[],
    requests: Resources,
    expiresAt: number,
  ): void {
    this.releaseTentative(uid);
    const keys: string[] = [];
    for (const p of placements) {
      const key = `${p.cluster}\u0000tentative\u0000${uid}`;
      this.account(key, this.holds, { cluster: p.cluster, node: p.node, requests, expiresAt });
      keys.push(key);
    }
    if (keys.length > 0) this.tentative.set(uid, keys);
  }

  releaseTentative(uid: string): void {
    for (const k of this.tentative.get(uid) ?? []) this.unaccount(k, this.holds);
    this.tentative.delete(uid);
  }

  upsertPod(cluster: string, pod: MemberPod): void {
    const key = `${cluster}\u0000${pod.uid}`;
    this.unaccount(key, this.pods);
    // The pod now speaks for itself: drop the reservation made when the extender placed it.
    this.unaccount(`${cluster}\u0000${pod.namespace}/${pod.name}`, this.holds);
    if (pod.terminal || !pod.nodeName) return;
    this.account(key, this.pods, { cluster, node: pod.nodeName, requests: pod.requests });
  }

  deletePod(cluster: string, uid: string): void {
    this.unaccount(`${cluster}\u0000${uid}`, this.pods);
  }

  /** Hold capacity on a member node for a pod placed but not yet seen in the leaf. Idempotent per pod. */
  reserve(
    cluster: string,
    memberNode: string,
    namespace: string,
    name: string,
    requests: Resources,
    expiresAt = Infinity,
  ): void {
    const key = `${cluster}\u0000${namespace}/${name}`;
    this.unaccount(key, this.holds);
    this.account(key, this.holds, { cluster, node: memberNode, requests, expiresAt });
  }

  /** Drop holds whose pods never showed up in the leaf (ClusterTree down, pod deleted meanwhile). */
  sweep(now: number): number {
    let dropped = 0;
    for (const [k, h] of this.holds) {
      if ((h.expiresAt ?? Infinity) <= now) {
        this.unaccount(k, this.holds);
        dropped++;
      }
    }
    for (const [uid, keys] of this.tentative) {
      const left = keys.filter((k) => this.holds.has(k));
      if (left.length === 0) this.tentative.delete(uid);
      else this.tentative.set(uid, left);
    }
    return dropped;
  }

  release(cluster: string, namespace: string, name: string): void {
    this.unaccount(`${cluster}\u0000${namespace}/${name}`, this.holds);
  }

  /** Bind-time holds (filter-time ones are not counted: they come and go with every pod). */
  reservationCount(): number {
    return this.holds.size - [...this.tentative.values()].reduce((n, k) => n + k.length, 0);
  }

  private refresh(c: ClusterMembers): void {
    if (c.dirty) {
      c.sorted = [...c.nodes.values()].filter((m) => m.usable);
      c.sorted.sort((a, b) => free(b, 'cpu') - free(a, 'cpu'));
      c.dirty = false;
      c.maxDirty = true;
    }
    if (!c.maxDirty) return;
    const max: Resources = {};
    for (const m of c.sorted) {
      for (const r of Object.keys(m.allocatable)) {
        const f = free(m, r);
        if (max[r] === undefined || f > (max[r] as number)) max[r] = f;
      }
    }
    c.maxFree = max;
    c.maxDirty = false;
  }

  /**
   * Can one member node in `scope` hold `req`? `best` walks every node with enough cpu to
   * report the tightest one (for best-fit scoring); otherwise the first fit answers.
   */
  fit(
    cluster: string,
    scope: MemberScope,
    req: Resources,
    constraints: MemberConstraints,
    best = false,
  ): FitAnswer | undefined {
    const c = this.clusters.get(cluster);
    if (!c || c.nodes.size === 0) return undefined;
    this.refresh(c);
    if (scope.kind === 'cluster') {
      for (const r in req) {
        const want = req[r] as number;
        const largest = c.maxFree[r] ?? 0;
        // O(resources): bigger than every member node. The largest chunk is over all usable
        // nodes here, which is what a user needs to see to size the pod.
        if (want > 0 && largest < want) return shortOf(r, want, largest);
      }
    }
    const wantCpu = req['cpu'] ?? 0;
    const candidates =
      scope.kind === 'node'
        ? [c.nodes.get(scope.name)].filter((m): m is MemberNode => !!m?.usable)
        : c.sorted;
    let chosen: MemberNode | undefined;
    for (const m of candidates) {
      if (free(m, 'cpu') < wantCpu) break;
      if (!inScope(m, scope) || !fits(m, req) || !eligible(m, constraints)) continue;
      chosen = m;
      if (!best) break;
    }
    if (!chosen) return this.failure(c, scope, req, constraints);
    const leftover = free(chosen, 'cpu') - wantCpu;
    return { ok: true, memberNode: chosen.name, leftover, capacity: chosen.allocatable['cpu'] ?? 0 };
  }

  /** Slow path, only when nothing fits: name the resource that is short and the largest chunk of it. */
  private failure(
    c: ClusterMembers,
    scope: MemberScope,
    req: Resources,
    constraints: MemberConstraints,
  ): FitAnswer {
    const usable = c.sorted.filter((m) => inScope(m, scope) && eligible(m, constraints));
    if (usable.length === 0) {
      return {
        ok: false,
        reason: 'no Ready, schedulable member node matches the pod’s node selector, affinity and tolerations',
      };
    }
    const names = [
      ...ORDER,
      ...Object.keys(req)
        .filter((r) => !ORDER.includes(r))
        .sort(),
    ];
    for (const r of names) {
      const want = req[r] ?? 0;
      if (want <= 0) continue;
      let largest = -Infinity;
      for (const m of usable) largest = Math.max(largest, free(m, r));
      if (largest < want) return shortOf(r, want, largest);
    }
    const asked = names
      .filter((r) => (req[r] ?? 0) > 0 && r !== 'pods')
      .map((r) => `${formatResource(r, req[r] as number)} ${r}`);
    return { ok: false, reason: `no member node has ${asked.join(' and ')} free together` };
  }
}
