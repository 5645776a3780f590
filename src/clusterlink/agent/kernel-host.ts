/**
 * The node as one port for the agent loop: rtnetlink for devices/routes/neighbours,
 * iptables-restore for the NAT and FORWARD chains, /proc/sys files for sysctls.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfigSpec } from '../../api/kinds.js';
import { describeError } from '../../common/errors.js';
import type { Family } from '../../common/ip.js';
import type { HostState, Plan } from './diff.js';
import { loadTables, writeTables } from './iptables.js';
import { NetlinkHost } from './netlink-host.js';
import { NftGeneration } from './nft-generation.js';
import { DEFAULT_RP_FILTER_DEVICES, sysctlsFor } from './node-settings.js';

export interface HostPort {
  /** `natFamilies`: families whose desired spec has iptables rules (their chains are always read). */
  load(natFamilies?: readonly Family[]): Promise<HostState>;
  apply(plan: Plan): Promise<string[]>;
  /** The node NIC of a family for devices bound to "*" (see NetlinkHost.detectNic). */
  detectNic(family: Family, nodeIPs: readonly string[]): Promise<string | undefined>;
  /** Make the node's sysctls what these devices need (node-settings.ts); how many were rewritten. */
  enforceSysctls(spec: Pick<NodeConfigSpec, 'devices'>): Promise<{ changed: number; errors: string[] }>;
  close(): void;
}

export interface KernelHostOptions {
  /** rtnetlink request chunks in flight (DEFAULT_IN_FLIGHT). */
  inFlight?: number;
  /**
   * Where the node's /proc/sys is writable. A container's own /proc/sys is read-only unless it
   * is privileged; the DaemonSet mounts the host's /proc/sys/net at /host/proc/sys/net instead.
   */
  sysctlRoot?: string;
  /** CNI devices that get rp_filter=2 (`*` ends a prefix). */
  rpFilterDevices?: readonly string[];
}

export class KernelHost implements HostPort {
  private readonly nl: NetlinkHost;
  /** Whether the last read of a family found CLUSTERLINK rules (nat or FORWARD); unknown until read once. */
  private readonly natSeen: Partial<Record<Family, boolean>> = {};
  private readonly gen = new NftGeneration();
  /** Last read per family with the nftables generation it was read at (nft backend only). */
  private readonly natCache: Partial<
    Record<Family, { gen: number; nat: HostState['iptables'][4]; forward: HostState['forward'][4] }>
  > = {};

  private readonly sysctlRoot: string;
  private readonly rpFilterDevices: readonly string[];

  constructor(o: KernelHostOptions = {}) {
    this.nl = new NetlinkHost(o.inFlight);
    this.sysctlRoot = o.sysctlRoot ?? '/proc/sys';
    this.rpFilterDevices = o.rpFilterDevices ?? DEFAULT_RP_FILTER_DEVICES;
  }

  async load(natFamilies: readonly Family[] = [4, 6]): Promise<HostState> {
    // A family with no rules wanted and none found last time is not read again: on an
    // IPv4-only node that saves an ip6tables-save process on every resync. Stale rules are
    // still found, because a family is read until a read finds its chains empty.
    const read = (f: Family) => natFamilies.includes(f) || this.natSeen[f] !== false;
    // With iptables-nft, an unchanged nftables generation means unchanged rules: the cached
    // read stands and no iptables-save process starts (the bulk of a no-change resync).
    const gen = await this.gen.current();
    const tables = async (f: Family) => {
      if (!read(f)) return { nat: undefined, forward: undefined };
      const cached = this.natCache[f];
      if (gen !== undefined && cached && cached.gen === gen) return cached;
      const { nat, forward, nftBackend } = await loadTables(f);
      this.natSeen[f] = (nat?.length ?? 0) + (forward?.length ?? 0) > 0;
      if (gen !== undefined && nftBackend) this.natCache[f] = { gen, nat, forward };
      else delete this.natCache[f];
      return { nat, forward };
    };
    // iptables-save runs as a separate process: overlap it with the netlink dumps.
    const [base, t4, t6] = await Promise.all([this.nl.load(), tables(4), tables(6)]);
    return { ...base, iptables: { 4: t4.nat, 6: t6.nat }, forward: { 4: t4.forward, 6: t6.forward } };
  }

  async apply(plan: Plan): Promise<string[]> {
    const errors = await this.nl.apply(plan);
    for (const f of [4, 6] as Family[]) {
      const nat = plan.iptables[f];
      const forward = plan.forward[f];
      if (!nat && !forward) continue;
      try {
        await writeTables(f, { nat, forward });
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    return errors;
  }

  detectNic(family: Family, nodeIPs: readonly string[]): Promise<string | undefined> {
    return this.nl.detectNic(family, nodeIPs);
  }

  async enforceSysctls(
    spec: Pick<NodeConfigSpec, 'devices'>,
  ): Promise<{ changed: number; errors: string[] }> {
    const links = await this.nl.linkNames();
    let changed = 0;
    const errors: string[] = [];
    for (const s of sysctlsFor(spec, links, this.rpFilterDevices)) {
      const file = join(this.sysctlRoot, s.path);
      try {
        if ((await readFile(file, 'utf8')).trim() === s.value) continue;
        await writeFile(file, s.value);
        changed++;
      } catch (err) {
        const ro = (err as NodeJS.ErrnoException).code === 'EROFS';
        errors.push(
          `sysctl ${file}=${s.value}: ${describeError(err)}${ro ? ` (read-only: mount the host's /proc/sys/net writable and pass --sysctl-root)` : ''}`,
        );
      }
    }
    return { changed, errors };
  }

  close(): void {
    this.nl.close();
    this.gen.close();
  }
}
