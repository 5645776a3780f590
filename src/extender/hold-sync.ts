/**
 * Keeps the fit index's holds equal to the HoldStore's, and writes a filter's holds with a
 * compare-and-set on the version the decision was based on.
 */
import type { FitIndex, HoldPlacement } from './fit-index/fit-index.js';
import type { HoldStore } from './reservations/hold-store.js';

export class HoldSync {
  /** Store version the index mirrors; -1 forces a full refresh. */
  private mirrored = -1;

  constructor(
    private readonly store: HoldStore,
    private readonly index: FitIndex,
  ) {}

  /** Bring the mirror up to date; returns the version decisions are now based on. */
  async refresh(): Promise<number> {
    const v = await this.store.version();
    if (v !== this.mirrored) {
      const snap = await this.store.snapshot();
      this.index.replaceHolds(snap.entries.flatMap((e) => e.holds.map((h) => ({ holder: e.holder, ...h }))));
      this.mirrored = snap.version;
    }
    return this.mirrored;
  }

  private advanced(v: number, from: number): void {
    // Our write was the only change since the mirror: stay in sync without a re-read.
    this.mirrored = v === from + 1 ? v : -1;
  }

  /** Hold `holds` for `holder` if nothing changed since `basis`; false means decide again. */
  async place(
    holder: string,
    holds: readonly HoldPlacement[],
    ttlMs: number,
    basis: number,
  ): Promise<boolean> {
    const from = this.mirrored;
    const v = await this.store.replace(holder, holds, ttlMs, basis);
    if (v === undefined) {
      this.mirrored = -1;
      return false;
    }
    this.index.setHolder(holder, holds);
    this.advanced(v, from);
    return true;
  }

  /** Bind chose a leaf: keep only that cluster's hold, for longer. */
  async narrow(holder: string, cluster: string, ttlMs: number): Promise<void> {
    const from = this.mirrored;
    const v = await this.store.narrow(holder, cluster, ttlMs);
    this.index.setHolder(
      holder,
      this.index.holdsOf(holder).filter((h) => h.cluster === cluster),
    );
    this.advanced(v, from);
  }

  async drop(holder: string): Promise<void> {
    const from = this.mirrored;
    const v = await this.store.drop(holder);
    this.index.setHolder(holder, []);
    this.advanced(v, from);
  }
}
