/**
 * The placement core: which of the candidate nodes a pod may use, and how to rank them.
 * Pure: everything it reads comes through PlacementWorld, everything it decides is returned
 * (including the workload-policy domain the adapter must reserve before answering).
 */
import { resolvePolicy, type ResolvedPolicy } from '../../common/distribution-policy.js';
import type { WorkloadPolicy } from '../../api/kinds.js';
import { checkDistribution } from './distribution-policy/index.js';
import { checkFragmentedFit } from './fragmented-fit/index.js';
import { checkTaints, effectiveTolerations } from './leaf-taints/index.js';
import { domainOf, planDomains, policyKey, workloadGate } from './replica-ratio/index.js';
import type { NodeView, PlacementWorld, PodView, RuleVerdict } from './types.js';
import { checkVolumes } from './volumes/index.js';

/** The rule that rejected a node, for metrics and summaries. */
export type RuleName =
  'unknown-node' | 'distribution-policy' | 'taints' | 'volumes' | 'fragmented-fit' | 'workload-policy';

export interface Rejection {
  node: string;
  rule: RuleName;
  reason: string;
  unresolvable: boolean;
}

export interface FilterDecision {
  passed: string[];
  /** The passed nodes that are leaf nodes (for member-capacity holds). */
  passedLeaves?: NodeView[];
  rejected: Rejection[];
  policy?: ResolvedPolicy;
  /** Reserve this domain for the pod (by UID) before answering, or counts drift under a burst. */
  reserve?: { policy: WorkloadPolicy; policyKey: string; domain: string };
}

export type LeafPreference = 'host-first' | 'leaf-first' | 'capacity';
export type LeafPacking = 'best-fit' | 'spread';

export interface PlacementOptions {
  /** Order between host and leaf nodes for pods whose policy allows both. */
  preference: LeafPreference;
  /** Among leaf nodes: tightest member node first (default) or the most free first. */
  packing: LeafPacking;
}

export const DEFAULT_OPTIONS: PlacementOptions = { preference: 'host-first', packing: 'best-fit' };

interface PodContext {
  pod: PodView;
  policy: ResolvedPolicy | undefined;
  tolerations: PodView['tolerations'];
}

function context(pod: PodView, world: PlacementWorld): PodContext {
  const policy = resolvePolicyForView(pod, world);
  return { pod, policy, tolerations: effectiveTolerations(pod.tolerations, policy) };
}

function resolvePolicyForView(pod: PodView, world: PlacementWorld): ResolvedPolicy | undefined {
  if (pod.daemonSet) return undefined;
  return resolvePolicy(
    {
      metadata: { name: pod.name, namespace: pod.namespace, labels: { ...pod.labels } },
      spec: { containers: [] },
    },
    world.policies(),
  );
}

function judgeNode(
  ctx: PodContext,
  node: NodeView,
  world: PlacementWorld,
): { rule: RuleName; verdict: RuleVerdict } | undefined {
  let v = checkDistribution(ctx.policy, node);
  if (!v.ok) return { rule: 'distribution-policy', verdict: v };
  v = checkTaints(ctx.tolerations, ctx.policy, node);
  if (!v.ok) return { rule: 'taints', verdict: v };
  if (ctx.pod.claimNames.length > 0) {
    v = checkVolumes(ctx.pod, node, world);
    if (!v.ok) return { rule: 'volumes', verdict: v };
  }
  v = checkFragmentedFit(ctx.pod, node, world);
  if (!v.ok) return { rule: 'fragmented-fit', verdict: v };
  return undefined;
}

function reject(out: Rejection[], node: string, rule: RuleName, v: RuleVerdict): void {
  if (!v.ok) out.push({ node, rule, reason: v.reason, unresolvable: v.unresolvable });
}

export function filterPod(pod: PodView, nodeNames: readonly string[], world: PlacementWorld): FilterDecision {
  const ctx = context(pod, world);
  const rejected: Rejection[] = [];
  let survivors: NodeView[] = [];
  for (const name of nodeNames) {
    const node = world.node(name);
    if (!node) {
      rejected.push({
        node: name,
        rule: 'unknown-node',
        reason: `node ${name} is not in the extender's cache yet`,
        unresolvable: false,
      });
      continue;
    }
    const bad = judgeNode(ctx, node, world);
    if (bad) reject(rejected, name, bad.rule, bad.verdict);
    else survivors.push(node);
  }

  const decision: FilterDecision = { passed: [], rejected };
  if (ctx.policy) decision.policy = ctx.policy;

  if (pod.workloadPolicy && !pod.daemonSet && survivors.length > 0) {
    const wlp = world.workloadPolicy(pod.namespace, pod.workloadPolicy);
    const gate = workloadGate(pod, wlp);
    if (!gate.ok || !wlp) {
      for (const n of survivors) reject(rejected, n.name, 'workload-policy', gate);
      survivors = [];
    } else {
      const byDomain = new Map<NodeView, string>();
      const feasible = new Set<string>();
      const kept: NodeView[] = [];
      for (const n of survivors) {
        const d = domainOf(wlp, n);
        if ('verdict' in d) reject(rejected, n.name, 'workload-policy', d.verdict);
        else {
          byDomain.set(n, d.domain);
          feasible.add(d.domain);
          kept.push(n);
        }
      }
      const plan = planDomains(wlp, feasible, world.workloadCounts(wlp, pod.uid));
      survivors = [];
      for (const n of kept) {
        const d = byDomain.get(n) as string;
        const closed = plan.closed.get(d);
        if (closed)
          rejected.push({
            node: n.name,
            rule: 'workload-policy',
            reason: closed.reason,
            unresolvable: closed.unresolvable,
          });
        else survivors.push(n);
      }
      if (plan.target !== undefined && survivors.length > 0) {
        decision.reserve = { policy: wlp, policyKey: policyKey(wlp), domain: plan.target };
      }
    }
  }
  decision.passed = survivors.map((n) => n.name);
  decision.passedLeaves = survivors.filter((n) => n.leaf);
  return decision;
}

export interface HostScore {
  Host: string;
  Score: number;
}

/**
 * Scores 0..10. Host/leaf order follows the policy and the configured preference; among
 * leaves the member-node fit decides (best fit by default, spread if configured); with a
 * Preferred WorkloadPolicy past its counts, the policy's method leans the choice.
 */
export function prioritizePod(
  pod: PodView,
  nodeNames: readonly string[],
  world: PlacementWorld,
  options: PlacementOptions = DEFAULT_OPTIONS,
): HostScore[] {
  // Leftover after placement, per leaf, normalised across this call's leaves.
  const fit = new Map<string, number>();
  let lo = Infinity;
  let hi = -Infinity;
  for (const name of nodeNames) {
    const n = world.node(name);
    if (!n || (!n.leaf && options.preference !== 'capacity')) continue;
    const a = n.leaf ? world.memberFit(n, pod, true) : world.hostFit(n, pod);
    if (!a?.ok || a.leftover === undefined) continue;
    const frac = a.capacity ? a.leftover / a.capacity : 0;
    fit.set(n.name, frac);
    if (frac < lo) lo = frac;
    if (frac > hi) hi = frac;
  }
  const packScore = (name: string): number => {
    const f = fit.get(name);
    if (f === undefined) return 5;
    if (options.preference === 'capacity') return Math.round(10 * f); // most free first
    if (hi - lo < 1e-9) return 10;
    const rel = (f - lo) / (hi - lo); // 0 = tightest
    return Math.round(10 * (options.packing === 'best-fit' ? 1 - rel : rel));
  };

  let wlpScores: Map<string, number> | undefined;
  let wlp: WorkloadPolicy | undefined;
  if (pod.workloadPolicy && !pod.daemonSet) {
    wlp = world.workloadPolicy(pod.namespace, pod.workloadPolicy);
    if (wlp) {
      const feasible = new Set(wlp.spec.allocationPolicy.map((e) => e.name));
      wlpScores = planDomains(wlp, feasible, world.workloadCounts(wlp, pod.uid)).scores;
    }
  }

  return nodeNames.map((name) => {
    const n = world.node(name);
    if (!n) return { Host: name, Score: 0 };
    let score: number;
    switch (options.preference) {
      case 'host-first':
        score = n.leaf ? Math.round(packScore(name) / 2) : 10;
        break;
      case 'leaf-first':
        score = n.leaf ? 5 + Math.round(packScore(name) / 2) : 0;
        break;
      case 'capacity':
        score = packScore(name);
        break;
    }
    if (wlpScores && wlp) {
      const d = n.labels[wlp.spec.topologyKey];
      const s = d === undefined ? undefined : wlpScores.get(d);
      if (s !== undefined) score = Math.round((score + s) / 2);
    }
    return { Host: name, Score: Math.max(0, Math.min(10, score)) };
  });
}

/** One line saying why no node fits, grouped by reason: for the pod Event and the logs. */
export function summarise(pod: PodView, decision: FilterDecision, total: number): string {
  const counts = new Map<string, number>();
  for (const r of decision.rejected) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
  const parts = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([reason, n]) => (n > 1 ? `${n} × ${reason}` : reason));
  return `0/${total} nodes are available for pod ${pod.namespace}/${pod.name}: ${parts.join('; ')}`;
}
