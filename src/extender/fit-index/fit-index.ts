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
import { nodeUsable } from '../../common/resources.js';
import { labelsContain, nodeSelectorMatches, toleratedBy } from '../../common/selectors.js';
import { labelSelectorMatches } from '../../common/selectors.js';
import type { FitAnswer, MemberConstraints, MemberScope, Resources } from '../placement/types.js';
import { namespacedKey } from '../../common/object-key.js';

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
  /** maxFree is exact (not just an upper bound) since the last usage change. */
  exact: boolean;
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
}

/** Capacity kept on one member node of one leaf cluster. */
export interface HoldPlacement {
  cluster: string;
  node: string;
  requests: Resources;
}

const ORDER = ['cpu', 'memory', 'ephemeral-storage', 'pods'];

function free(m: MemberNode, r: string): number {
  return (m.allocatable[r] ?? 0) - (m.used[r] ?? 0);
}

function addTo(into: Resources, from: Resources, sign: 1 | -1): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + sign * v;
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
  private readonly byHolder = new Map<string, string[]>();
  /** "cluster\0namespace/name" of member pods seen, so their holds no longer count. */
  private readonly observed = new Set<string>();
  private readonly podKeys = new Map<string, string>();

  private members(cluster: string): ClusterMembers {
    let c = this.clusters.get(cluster);
    if (!c) {
      c = { nodes: new Map(), sorted: [], maxFree: {}, dirty: true, exact: false };
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
    for (const k of [...this.observed]) if (k.startsWith(`${cluster}\u0000`)) this.observed.delete(k);
  }

  private unaccount(key: string, map: Map<string, Held>): void {
    const h = map.get(key);
    if (!h) return;
    map.delete(key);
    const c = this.clusters.get(h.cluster);
    const m = c?.nodes.get(h.node);
    if (c && m) {
      addTo(m.used, h.requests, -1);
      this.moved(c, m, h.requests);
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
  private moved(c: ClusterMembers, m: MemberNode, freed?: Resources): void {
    c.exact = false;
    // maxFree stays an upper bound: usage going up can only lower the true maxima, usage
    // going down raises them at most to this node's new free amounts. The quick reject
    // recomputes exactly before it answers "no", so the bound never rejects wrongly.
    if (freed && m.usable && !c.dirty) {
      for (const r in freed) {
        const f = free(m, r);
        if (c.maxFree[r] === undefined || f > (c.maxFree[r] as number)) c.maxFree[r] = f;
      }
    }
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
   * Holds: capacity kept for pods the extender placed (or is placing) on a leaf but that do
   * not show up in the leaf yet. One holder (the pod, "namespace/name") has at most one hold
   * per leaf cluster: between filter and bind one on every leaf the pod passed (kube-scheduler
   * starts the next pod before this one's bind lands), after bind one on the chosen leaf.
   * The holds themselves live in a HoldStore shared by extender replicas; this index mirrors
   * them. A hold stops counting as soon as its pod is seen in that leaf cluster.
   */
  setHolder(holder: string, holds: readonly HoldPlacement[]): void {
    for (const k of this.byHolder.get(holder) ?? []) this.unaccount(k, this.holds);
    this.byHolder.delete(holder);
    const keys: string[] = [];
    for (const h of holds) {
      if (this.observed.has(`${h.cluster}\u0000${holder}`)) continue;
      const key = `${h.cluster}\u0000${holder}`;
      this.account(key, this.holds, { cluster: h.cluster, node: h.node, requests: h.requests });
      keys.push(key);
    }
    if (keys.length > 0) this.byHolder.set(holder, keys);
  }

  /** Replace every hold by the store's current set. */
  replaceHolds(holds: Iterable<{ holder: string } & HoldPlacement>): void {
    for (const [k] of this.holds) this.unaccount(k, this.holds);
    this.byHolder.clear();
    const grouped = new Map<string, HoldPlacement[]>();
    for (const h of holds) {
      const list = grouped.get(h.holder) ?? [];
      list.push(h);
      grouped.set(h.holder, list);
    }
    for (const [holder, list] of grouped) this.setHolder(holder, list);
  }

  /** The holds of one holder, as placed (for narrowing at bind). */
  holdsOf(holder: string): HoldPlacement[] {
    const out: HoldPlacement[] = [];
    for (const k of this.byHolder.get(holder) ?? []) {
      const h = this.holds.get(k);
      if (h) out.push({ cluster: h.cluster, node: h.node, requests: h.requests });
    }
    return out;
  }

  upsertPod(cluster: string, pod: MemberPod): void {
    const key = `${cluster}\u0000${pod.uid}`;
    this.unaccount(key, this.pods);
    const holder = namespacedKey(pod.namespace, pod.name);
    const observedKey = `${cluster}\u0000${holder}`;
    this.podKeys.set(key, observedKey);
    // Once the pod is on a member node (or finished) it speaks for itself and its hold
    // (placed by the extender) stops counting. A leaf pod still waiting for the leaf's own
    // scheduler counts on no node, so its hold must keep the capacity until then.
    if (!pod.nodeName && !pod.terminal) return;
    this.observed.add(observedKey);
    if (this.holds.has(observedKey)) {
      this.unaccount(observedKey, this.holds);
      const left = (this.byHolder.get(holder) ?? []).filter((k) => k !== observedKey);
      if (left.length > 0) this.byHolder.set(holder, left);
      else this.byHolder.delete(holder);
    }
    if (pod.terminal || !pod.nodeName) return;
    this.account(key, this.pods, { cluster, node: pod.nodeName, requests: pod.requests });
  }

  deletePod(cluster: string, uid: string): void {
    const key = `${cluster}\u0000${uid}`;
    this.unaccount(key, this.pods);
    const observedKey = this.podKeys.get(key);
    if (observedKey) this.observed.delete(observedKey);
    this.podKeys.delete(key);
  }

  /** Holds currently counted. */
  holdCount(): number {
    return this.holds.size;
  }

  private refresh(c: ClusterMembers): void {
    if (!c.dirty) return;
    c.sorted = [...c.nodes.values()].filter((m) => m.usable);
    c.sorted.sort((a, b) => free(b, 'cpu') - free(a, 'cpu'));
    c.dirty = false;
    c.exact = false;
    this.exactMaxima(c);
  }

  private exactMaxima(c: ClusterMembers): void {
    if (c.exact) return;
    const max: Resources = {};
    for (const m of c.sorted) {
      for (const r of Object.keys(m.allocatable)) {
        const f = free(m, r);
        if (max[r] === undefined || f > (max[r] as number)) max[r] = f;
      }
    }
    c.maxFree = max;
    c.exact = true;
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
        // O(resources): bigger than every member node. The largest chunk is over all usable
        // nodes here, which is what a user needs to see to size the pod.
        if (want > 0 && (c.maxFree[r] ?? 0) < want) {
          this.exactMaxima(c);
          const largest = c.maxFree[r] ?? 0;
          if (largest < want) return shortOf(r, want, largest);
        }
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
