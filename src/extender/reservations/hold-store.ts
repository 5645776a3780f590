/**
 * Member-capacity holds shared by extender replicas: "pod ns/name keeps these requests on
 * member node N of leaf cluster C until it shows up there". One entry per holder (pod),
 * replaced as a whole. Every change bumps one version; a replica refreshes its mirror when
 * the version moved, and writes a filter's holds only if the version is still the one its
 * decision was based on, so two replicas never promise the same member chunk twice.
 */
import type { HoldPlacement } from '../fit-index/fit-index.js';

export interface HolderEntry {
  holder: string;
  holds: HoldPlacement[];
  expiresAt: number;
}

export interface HoldSnapshot {
  version: number;
  entries: HolderEntry[];
}

export interface HoldStore {
  /** Current version (expired entries pruned first). */
  version(): Promise<number>;
  snapshot(): Promise<HoldSnapshot>;
  /**
   * Replace `holder`'s holds if the version is still `expected`; returns the new version, or
   * undefined on a conflict (re-read and decide again). An empty list removes the holder.
   */
  replace(
    holder: string,
    holds: readonly HoldPlacement[],
    ttlMs: number,
    expected: number,
  ): Promise<number | undefined>;
  /** Keep only the hold on `cluster` and extend it (bind chose that leaf). Returns the new version. */
  narrow(holder: string, cluster: string, ttlMs: number): Promise<number>;
  /** Remove a holder (its pod was seen in the leaf, or deleted). Returns the new version. */
  drop(holder: string): Promise<number>;
  close(): Promise<void>;
}

export class MemoryHoldStore implements HoldStore {
  private ver = 0;
  private readonly entries = new Map<string, HolderEntry>();

  constructor(private readonly now: () => number = Date.now) {}

  private prune(): void {
    const t = this.now();
    for (const [k, e] of this.entries) {
      if (e.expiresAt <= t) {
        this.entries.delete(k);
        this.ver++;
      }
    }
  }

  version(): Promise<number> {
    this.prune();
    return Promise.resolve(this.ver);
  }

  snapshot(): Promise<HoldSnapshot> {
    this.prune();
    return Promise.resolve({ version: this.ver, entries: [...this.entries.values()] });
  }

  replace(
    holder: string,
    holds: readonly HoldPlacement[],
    ttlMs: number,
    expected: number,
  ): Promise<number | undefined> {
    this.prune();
    if (this.ver !== expected) return Promise.resolve(undefined);
    if (holds.length === 0) this.entries.delete(holder);
    else this.entries.set(holder, { holder, holds: [...holds], expiresAt: this.now() + ttlMs });
    return Promise.resolve(++this.ver);
  }

  narrow(holder: string, cluster: string, ttlMs: number): Promise<number> {
    // Like the Redis script: an expired hold is gone, never extended back to life.
    this.prune();
    const e = this.entries.get(holder);
    if (e) {
      e.holds = e.holds.filter((h) => h.cluster === cluster);
      e.expiresAt = this.now() + ttlMs;
      if (e.holds.length === 0) this.entries.delete(holder);
      this.ver++;
    }
    return Promise.resolve(this.ver);
  }

  drop(holder: string): Promise<number> {
    if (this.entries.delete(holder)) this.ver++;
    return Promise.resolve(this.ver);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
