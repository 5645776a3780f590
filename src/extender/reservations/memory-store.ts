/** Reservations in process memory: for a single extender replica, tests and benches. */
import type { DomainReservation, ReservationSnapshot, ReservationStore } from './store.js';

interface PolicyEntries {
  version: number;
  entries: Map<string, DomainReservation>;
}

export class MemoryReservationStore implements ReservationStore {
  private readonly policies = new Map<string, PolicyEntries>();

  constructor(private readonly now: () => number = Date.now) {}

  private live(policyKey: string): PolicyEntries {
    let p = this.policies.get(policyKey);
    if (!p) {
      p = { version: 0, entries: new Map() };
      this.policies.set(policyKey, p);
    }
    const t = this.now();
    for (const [uid, e] of p.entries) {
      if (e.expiresAt <= t) {
        p.entries.delete(uid);
        p.version++;
      }
    }
    return p;
  }

  snapshot(policyKey: string): Promise<ReservationSnapshot> {
    const p = this.live(policyKey);
    return Promise.resolve({ version: p.version, entries: [...p.entries.values()].map((e) => ({ ...e })) });
  }

  reserve(
    policyKey: string,
    expectedVersion: number,
    uid: string,
    domain: string,
    ttlMs: number,
  ): Promise<boolean> {
    const p = this.live(policyKey);
    if (p.version !== expectedVersion) return Promise.resolve(false);
    p.entries.set(uid, { uid, domain, expiresAt: this.now() + ttlMs });
    p.version++;
    return Promise.resolve(true);
  }

  confirm(policyKey: string, uid: string, node: string, ttlMs: number): Promise<void> {
    const p = this.live(policyKey);
    const e = p.entries.get(uid);
    if (e) {
      e.node = node;
      e.expiresAt = this.now() + ttlMs;
      p.version++;
    }
    return Promise.resolve();
  }

  release(policyKey: string, uid: string): Promise<void> {
    const p = this.policies.get(policyKey);
    if (p?.entries.delete(uid)) p.version++;
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
