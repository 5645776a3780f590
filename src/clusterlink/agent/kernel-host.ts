/** The node as one port for the agent loop: rtnetlink for devices/routes/neighbours, iptables-restore for NAT. */
import type { Family } from '../../common/ip.js';
import type { HostState, Plan } from './diff.js';
import { loadNat, writeNat } from './iptables.js';
import { NetlinkHost } from './netlink-host.js';
import { NftGeneration } from './nft-generation.js';

export interface HostPort {
  /** `natFamilies`: families whose desired spec has NAT rules (their chains are always read). */
  load(natFamilies?: readonly Family[]): Promise<HostState>;
  apply(plan: Plan): Promise<string[]>;
  /** The node NIC of a family for devices bound to "*" (see NetlinkHost.detectNic). */
  detectNic(family: Family, nodeIPs: readonly string[]): Promise<string | undefined>;
  close(): void;
}

export class KernelHost implements HostPort {
  private readonly nl: NetlinkHost;
  /** Whether the last read of a family found CLUSTERLINK rules; unknown until read once. */
  private readonly natSeen: Partial<Record<Family, boolean>> = {};
  private readonly gen = new NftGeneration();
  /** Last read per family with the nftables generation it was read at (nft backend only). */
  private readonly natCache: Partial<Record<Family, { gen: number; rules: HostState['iptables'][4] }>> = {};

  constructor(inFlight?: number) {
    this.nl = new NetlinkHost(inFlight);
  }

  async load(natFamilies: readonly Family[] = [4, 6]): Promise<HostState> {
    // A family with no rules wanted and none found last time is not read again: on an
    // IPv4-only node that saves an ip6tables-save process on every resync. Stale rules are
    // still found, because a family is read until a read finds its chains empty.
    const read = (f: Family) => natFamilies.includes(f) || this.natSeen[f] !== false;
    // With iptables-nft, an unchanged nftables generation means unchanged rules: the cached
    // read stands and no iptables-save process starts (the bulk of a no-change resync).
    const gen = await this.gen.current();
    const nat = async (f: Family) => {
      if (!read(f)) return undefined;
      const cached = this.natCache[f];
      if (gen !== undefined && cached && cached.gen === gen) return cached.rules;
      const { rules, nftBackend } = await loadNat(f);
      this.natSeen[f] = (rules?.length ?? 0) > 0;
      if (gen !== undefined && nftBackend) this.natCache[f] = { gen, rules };
      else delete this.natCache[f];
      return rules;
    };
    // iptables-save runs as a separate process: overlap it with the netlink dumps.
    const [base, n4, n6] = await Promise.all([this.nl.load(), nat(4), nat(6)]);
    return { ...base, iptables: { 4: n4, 6: n6 } };
  }

  async apply(plan: Plan): Promise<string[]> {
    const errors = await this.nl.apply(plan);
    for (const f of [4, 6] as Family[]) {
      const rules = plan.iptables[f];
      if (!rules) continue;
      try {
        await writeNat(f, rules);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    return errors;
  }

  detectNic(family: Family, nodeIPs: readonly string[]): Promise<string | undefined> {
    return this.nl.detectNic(family, nodeIPs);
  }

  close(): void {
    this.nl.close();
    this.gen.close();
  }
}
