/**
 * The extender's in-memory picture of the host cluster and the leaf clusters, fed by the
 * informers (or directly by tests and benches), read by the placement core through the
 * PlacementWorld interface. Pods are kept slim (labels, node, requests), so 50 000 pods cost
 * tens of megabytes, not the size of their full objects.
 */
import { ANNOTATION_POD_DELETION_COST, LABEL_WORKLOAD_POLICY } from '../api/constants.js';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from '../api/core.js';
import type { Cluster, ClusterDistributionPolicy, DistributionPolicy, WorkloadPolicy } from '../api/kinds.js';
import type { LabelSelector } from '../api/meta.js';
import type { PolicyObject } from '../common/distribution-policy.js';
import { podRequests } from '../common/resources.js';
import { labelSelectorMatches } from '../common/selectors.js';
import { FitIndex, type MemberPod } from './fit-index/fit-index.js';
import { toNodeView } from './placement/node-view.js';
import { policyKey } from './placement/replica-ratio/index.js';
import type { FitAnswer, NodeView, PlacementWorld, PodView, Resources } from './placement/types.js';
import { namespacedKey } from '../common/object-key.js';

/** The pseudo-cluster under which host nodes sit in the host fit index. */
const HOST = '\u0000host';

export interface SlimPod {
  uid: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  nodeName?: string;
  terminal: boolean;
  deleting: boolean;
  requests: Resources;
  /** The pod's controller.kubernetes.io/pod-deletion-cost, as written. */
  deletionCost?: string;
}

/** A namespaced object's key; one without a namespace is in "default", as the apiserver would put it. */
const key = (namespace: string | undefined, name: string | undefined): string =>
  namespacedKey(namespace ?? 'default', name ?? '');

export function slimPod(pod: Pod): SlimPod {
  const m = pod.metadata ?? {};
  const phase = pod.status?.phase;
  const slim: SlimPod = {
    uid: m.uid ?? key(m.namespace, m.name),
    namespace: m.namespace ?? 'default',
    name: m.name ?? '',
    labels: m.labels ?? {},
    terminal: phase === 'Succeeded' || phase === 'Failed',
    deleting: m.deletionTimestamp !== undefined,
    requests: podRequests(pod),
  };
  if (pod.spec.nodeName) slim.nodeName = pod.spec.nodeName;
  const cost = m.annotations?.[ANNOTATION_POD_DELETION_COST];
  if (cost !== undefined) slim.deletionCost = cost;
  return slim;
}

function memberPod(p: SlimPod): MemberPod {
  const m: MemberPod = {
    uid: p.uid,
    namespace: p.namespace,
    name: p.name,
    terminal: p.terminal,
    requests: p.requests,
  };
  if (p.nodeName) m.nodeName = p.nodeName;
  return m;
}

export class ExtenderCache implements PlacementWorld {
  private readonly nodes = new Map<string, NodeView>();
  private readonly leafNodes = new Map<string, Node>();
  private readonly distribution = new Map<string, PolicyObject>();
  private policyList: PolicyObject[] | undefined;
  private readonly workloadPolicies = new Map<string, WorkloadPolicy>();
  private readonly pvcs = new Map<string, PersistentVolumeClaim>();
  private readonly pvs = new Map<string, PersistentVolume>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly pods = new Map<string, SlimPod>();
  private readonly podsByNamespace = new Map<string, Set<string>>();
  private readonly podsByKey = new Map<string, string>();
  /** Latest known in-flight domain reservations per WorkloadPolicy: uid → domain. */
  private readonly reservations = new Map<string, Map<string, string>>();
  readonly members = new FitIndex();
  /** Called when a pod that held member capacity was seen in its leaf, or deleted. */
  onHolderGone: ((holder: string) => void) | undefined;
  /** Called when a pod that opted into a WorkloadPolicy ("namespace/name") was deleted. */
  onReservationGone: ((policy: string, uid: string) => void) | undefined;
  readonly hosts = new FitIndex();
  /** Free capacity of host nodes is tracked only for the `capacity` preference (it costs memory per pod). */
  readonly hostCapacity: boolean;

  constructor(options: { hostCapacity?: boolean } = {}) {
    this.hostCapacity = options.hostCapacity ?? false;
  }

  // ---- host nodes ----
  upsertNode(node: Node): void {
    const view = toNodeView(node, (c) => this.clusters.get(c));
    this.nodes.set(view.name, view);
    if (view.leaf) {
      this.leafNodes.set(view.name, node);
      this.hosts.deleteNode(HOST, view.name);
    } else {
      this.leafNodes.delete(view.name);
      this.hosts.upsertNode(HOST, node);
    }
  }

  deleteNode(name: string): void {
    this.nodes.delete(name);
    this.leafNodes.delete(name);
    this.hosts.deleteNode(HOST, name);
  }

  nodeCount(): number {
    return this.nodes.size;
  }

  // ---- policies ----
  upsertDistributionPolicy(p: DistributionPolicy | ClusterDistributionPolicy): void {
    this.distribution.set(`${p.kind}/${key(p.metadata.namespace, p.metadata.name)}`, p);
    this.policyList = undefined;
  }

  deleteDistributionPolicy(p: DistributionPolicy | ClusterDistributionPolicy): void {
    this.distribution.delete(`${p.kind}/${key(p.metadata.namespace, p.metadata.name)}`);
    this.policyList = undefined;
  }

  upsertWorkloadPolicy(p: WorkloadPolicy): void {
    this.workloadPolicies.set(policyKey(p), p);
  }

  deleteWorkloadPolicy(p: WorkloadPolicy): void {
    this.workloadPolicies.delete(policyKey(p));
  }

  upsertCluster(c: Cluster): void {
    this.clusters.set(c.metadata.name ?? '', c);
    // The leaf mode of this cluster's virtual nodes may have changed.
    for (const n of this.leafNodes.values()) {
      const view = this.nodes.get(n.metadata?.name ?? '');
      if (view?.cluster === c.metadata.name) this.upsertNode(n);
    }
  }

  deleteCluster(c: Cluster): void {
    this.clusters.delete(c.metadata.name ?? '');
    this.members.deleteCluster(c.metadata.name ?? '');
  }

  // ---- volumes ----
  upsertPvc(pvc: PersistentVolumeClaim): void {
    this.pvcs.set(key(pvc.metadata?.namespace, pvc.metadata?.name), pvc);
  }
  deletePvc(pvc: PersistentVolumeClaim): void {
    this.pvcs.delete(key(pvc.metadata?.namespace, pvc.metadata?.name));
  }
  upsertPv(pv: PersistentVolume): void {
    this.pvs.set(pv.metadata?.name ?? '', pv);
  }
  deletePv(pv: PersistentVolume): void {
    this.pvs.delete(pv.metadata?.name ?? '');
  }

  // ---- host pods ----
  upsertPod(pod: Pod): SlimPod {
    const slim = slimPod(pod);
    const old = this.pods.get(slim.uid);
    if (this.hostCapacity && old?.nodeName && old.nodeName !== slim.nodeName)
      this.hosts.deletePod(HOST, slim.uid);
    this.pods.set(slim.uid, slim);
    this.podsByKey.set(key(slim.namespace, slim.name), slim.uid);
    let ns = this.podsByNamespace.get(slim.namespace);
    if (!ns) {
      ns = new Set();
      this.podsByNamespace.set(slim.namespace, ns);
    }
    ns.add(slim.uid);
    if (this.hostCapacity && slim.nodeName && !this.nodes.get(slim.nodeName)?.leaf) {
      this.hosts.upsertPod(HOST, memberPod(slim));
    }
    return slim;
  }

  deletePod(pod: Pod): void {
    const uid = pod.metadata?.uid ?? key(pod.metadata?.namespace, pod.metadata?.name);
    const slim = this.pods.get(uid);
    if (!slim) return;
    this.pods.delete(uid);
    this.podsByNamespace.get(slim.namespace)?.delete(uid);
    if (this.podsByKey.get(key(slim.namespace, slim.name)) === uid)
      this.podsByKey.delete(key(slim.namespace, slim.name));
    if (this.hostCapacity) this.hosts.deletePod(HOST, uid);
    for (const r of this.reservations.values()) r.delete(uid);
    const holder = key(slim.namespace, slim.name);
    if (this.members.holdsOf(holder).length > 0) this.onHolderGone?.(holder);
    const wlp = slim.labels[LABEL_WORKLOAD_POLICY];
    if (wlp) this.onReservationGone?.(key(slim.namespace, wlp), uid);
  }

  pod(namespace: string, name: string): SlimPod | undefined {
    const uid = this.podsByKey.get(key(namespace, name));
    return uid ? this.pods.get(uid) : undefined;
  }

  podCount(): number {
    return this.pods.size;
  }

  // ---- leaf clusters ----
  upsertMemberNode(cluster: string, node: Node): void {
    this.members.upsertNode(cluster, node);
  }
  deleteMemberNode(cluster: string, name: string): void {
    this.members.deleteNode(cluster, name);
  }
  upsertMemberPod(cluster: string, pod: Pod): void {
    const slim = slimPod(pod);
    const holder = key(slim.namespace, slim.name);
    const held = this.members.holdsOf(holder).some((h) => h.cluster === cluster);
    this.members.upsertPod(cluster, memberPod(slim));
    // Release the hold only once the leaf pod is on a member node and so counted by the
    // index: a leaf pod still waiting for the leaf's scheduler counts nowhere, and dropping
    // the hold then let a second pod be promised the same capacity.
    if (held && slim.nodeName) this.onHolderGone?.(holder);
  }
  deleteMemberPod(cluster: string, pod: Pod): void {
    this.members.deletePod(cluster, pod.metadata?.uid ?? key(pod.metadata?.namespace, pod.metadata?.name));
  }

  // ---- reservations mirror ----
  /** Replace what is known of a policy's in-flight reservations (from the reservation store). */
  setReservations(policy: string, entries: Iterable<{ uid: string; domain: string }>): void {
    const m = new Map<string, string>();
    for (const e of entries) m.set(e.uid, e.domain);
    this.reservations.set(policy, m);
  }

  // ---- PlacementWorld ----
  node(name: string): NodeView | undefined {
    return this.nodes.get(name);
  }

  policies(): readonly PolicyObject[] {
    this.policyList ??= [...this.distribution.values()];
    return this.policyList;
  }

  workloadPolicy(namespace: string, name: string): WorkloadPolicy | undefined {
    return this.workloadPolicies.get(key(namespace, name));
  }

  /** Every WorkloadPolicy known to the cache. */
  allWorkloadPolicies(): WorkloadPolicy[] {
    return [...this.workloadPolicies.values()];
  }

  /** The policy's bound, live pods with the value of its topology key on their node. */
  boundPodsOf(policy: WorkloadPolicy): (SlimPod & { domain: string })[] {
    const out: (SlimPod & { domain: string })[] = [];
    const selector = policy.spec.labelSelector as LabelSelector;
    for (const uid of this.podsByNamespace.get(policy.metadata.namespace ?? 'default') ?? []) {
      const p = this.pods.get(uid);
      if (!p?.nodeName || p.terminal || p.deleting || !labelSelectorMatches(selector, p.labels)) continue;
      const domain = this.nodes.get(p.nodeName)?.labels[policy.spec.topologyKey];
      if (domain !== undefined) out.push({ ...p, domain });
    }
    return out;
  }

  workloadCounts(policy: WorkloadPolicy, exceptUid: string): ReadonlyMap<string, number> {
    const counts = new Map<string, number>();
    const seen = new Set<string>();
    const topologyKey = policy.spec.topologyKey;
    const selector = policy.spec.labelSelector as LabelSelector;
    for (const uid of this.podsByNamespace.get(policy.metadata.namespace ?? 'default') ?? []) {
      const p = this.pods.get(uid);
      if (!p || uid === exceptUid || !p.nodeName || p.terminal || p.deleting) continue;
      if (!labelSelectorMatches(selector, p.labels)) continue;
      const domain = this.nodes.get(p.nodeName)?.labels[topologyKey];
      if (domain === undefined) continue;
      seen.add(uid);
      counts.set(domain, (counts.get(domain) ?? 0) + 1);
    }
    // A reservation counts until its pod is seen bound here (union by UID, so never twice).
    for (const [uid, domain] of this.reservations.get(policyKey(policy)) ?? []) {
      if (uid === exceptUid || seen.has(uid)) continue;
      const p = this.pods.get(uid);
      if (p && (p.terminal || p.deleting)) continue;
      counts.set(domain, (counts.get(domain) ?? 0) + 1);
    }
    return counts;
  }

  pvc(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.pvcs.get(key(namespace, name));
  }

  pv(name: string): PersistentVolume | undefined {
    return this.pvs.get(name);
  }

  memberFit(node: NodeView, pod: PodView, best = false): FitAnswer | undefined {
    if (!node.cluster || !node.scope) return undefined;
    return this.members.fit(node.cluster, node.scope, pod.requests, pod.member, best);
  }

  hostFit(node: NodeView, pod: PodView): FitAnswer | undefined {
    if (!this.hostCapacity) return undefined;
    return this.hosts.fit(HOST, { kind: 'node', name: node.name }, pod.requests, {
      nodeSelector: {},
      requiredTerms: undefined,
      tolerations: [{ operator: 'Exists' }],
    });
  }
}
