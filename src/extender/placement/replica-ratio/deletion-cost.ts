/**
 * The pod-deletion-cost each pod of a WorkloadPolicy should carry so that a scale-down
 * keeps the policy's ratio, and which pods need their annotation changed. Pure.
 */
import type { WorkloadPolicy } from '../../../api/kinds.js';
import { deletionOrder } from './deletion-order.js';

export interface CostedPod {
  uid: string;
  namespace: string;
  name: string;
  domain: string;
  /** The annotation as the pod carries it now. */
  deletionCost?: string;
}

export interface CostChange {
  namespace: string;
  name: string;
  cost: string;
}

/**
 * The ReplicaSet controller deletes lower costs first, so a pod's cost is its rank in the
 * ratio-keeping deletion order (rank 0 goes first). Only differing annotations change.
 */
export function deletionCostChanges(policy: WorkloadPolicy, pods: readonly CostedPod[]): CostChange[] {
  const order = deletionOrder(policy, pods);
  const changes: CostChange[] = [];
  for (const p of pods) {
    const cost = String(order.get(p.uid) ?? 0);
    if (p.deletionCost !== cost) changes.push({ namespace: p.namespace, name: p.name, cost });
  }
  return changes;
}
