/**
 * In-flight WorkloadPolicy domain reservations: "pod UID u will land in domain d". Taken at
 * filter time, confirmed at bind, and counted until the pod is seen bound (or deleted) or
 * the entry expires. Shared by all extender replicas through Redis, so two replicas that
 * filter pods of the same policy at once never both take the last slot: every write is a
 * compare-and-set on the policy's version, done in one Lua script.
 */

export interface DomainReservation {
  uid: string;
  domain: string;
  /** Node the pod was bound to, once bind went through. */
  node?: string;
  /** Epoch milliseconds after which the entry no longer counts. */
  expiresAt: number;
}

export interface ReservationSnapshot {
  /** Bumped on every change of this policy's reservations; the token for reserve(). */
  version: number;
  entries: DomainReservation[];
}

export interface ReservationStore {
  /** Live (unexpired) reservations of one policy, with the version to compare against. */
  snapshot(policyKey: string): Promise<ReservationSnapshot>;
  /**
   * Record (or move) the reservation of `uid`, only if the policy's version is still
   * `expectedVersion`; false means someone else changed it first: re-read and decide again.
   */
  reserve(
    policyKey: string,
    expectedVersion: number,
    uid: string,
    domain: string,
    ttlMs: number,
  ): Promise<boolean>;
  /** After bind: note the node and extend the entry so lagging informers still count it. */
  confirm(policyKey: string, uid: string, node: string, ttlMs: number): Promise<void>;
  /** Drop the reservation of a pod (it was deleted). */
  release(policyKey: string, uid: string): Promise<void>;
  close(): Promise<void>;
}
