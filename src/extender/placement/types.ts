/**
 * The plain data the placement rules read. A host Node becomes a NodeView once, when the
 * informer delivers it (or per request when the scheduler is not nodeCacheCapable), and a
 * Pod becomes a PodView once per extender call, so the per-node loops only compare
 * precomputed fields.
 */
import type {
  NodeSelectorTerm,
  PersistentVolume,
  PersistentVolumeClaim,
  Taint,
  Toleration,
} from '../../api/core.js';
import type { LabelSelector } from '../../api/meta.js';
import type { WorkloadPolicy } from '../../api/kinds.js';
import type { PolicyObject } from '../../common/distribution-policy.js';
import type { Resources as CommonResources } from '../../common/resources.js';

/** Amounts per resource name: cpu in milli-cores, everything else in whole units. */
/** The scheduler's units (milli-cpu, bytes, counts): common/resources.ts counts them. */
export type Resources = CommonResources;

/** Which member nodes of a leaf cluster one virtual node stands for (the three leaf modes). */
export type MemberScope =
  | { kind: 'cluster' } // one2cluster: the whole leaf cluster
  | { kind: 'selector'; selector: LabelSelector } // one2party: the member nodes a label selector picks
  | { kind: 'node'; name: string }; // one2one: exactly the member node of the same name

export interface NodeView {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Only NoSchedule and NoExecute taints: the ones that keep pods off a node. */
  taints: readonly Taint[];
  leaf: boolean;
  /** Leaf cluster name, for leaf nodes. */
  cluster?: string;
  scope?: MemberScope;
}

/** What a pod asks of a member node in its leaf cluster, as the pod will look there. */
export interface MemberConstraints {
  nodeSelector: Readonly<Record<string, string>>;
  requiredTerms: readonly NodeSelectorTerm[] | undefined;
  tolerations: readonly Toleration[];
}

export interface PodView {
  uid: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  daemonSet: boolean;
  requests: Resources;
  tolerations: readonly Toleration[];
  member: MemberConstraints;
  claimNames: readonly string[];
  /** Value of the workload-policy opt-in label, if any. */
  workloadPolicy?: string;
}

export interface FitAnswer {
  ok: boolean;
  /** Member node the pod would land on (tightest fit), when ok. */
  memberNode?: string;
  /** Free cpu (or first requested resource) left on that node after placing the pod. */
  leftover?: number;
  /** Capacity of that node in the same resource, to normalise scores. */
  capacity?: number;
  /** Why not, when not ok: "no member node has 4 cpu free; largest 1500m". */
  reason?: string;
}

/** Read-only view of everything the rules consult; the cache implements it. */
export interface PlacementWorld {
  node(name: string): NodeView | undefined;
  policies(): readonly PolicyObject[];
  workloadPolicy(namespace: string, name: string): WorkloadPolicy | undefined;
  /** Pods counted against a policy per domain: bound pods plus reservations, excluding `exceptUid`. */
  workloadCounts(policy: WorkloadPolicy, exceptUid: string): ReadonlyMap<string, number>;
  pvc(namespace: string, name: string): PersistentVolumeClaim | undefined;
  pv(name: string): PersistentVolume | undefined;
  /**
   * Fragmented fit of a pod on a leaf node's member nodes; undefined if nothing is known of
   * that cluster. `best` asks for the tightest member node (scoring) instead of the first.
   */
  memberFit(node: NodeView, pod: PodView, best?: boolean): FitAnswer | undefined;
  /** Free capacity of a host node (for capacity scoring); undefined if unknown. */
  hostFit(node: NodeView, pod: PodView): FitAnswer | undefined;
}

/** Outcome of one rule for one node. `unresolvable` means preemption cannot help. */
export type RuleVerdict = { ok: true } | { ok: false; reason: string; unresolvable: boolean };

export const PASS: RuleVerdict = { ok: true };
