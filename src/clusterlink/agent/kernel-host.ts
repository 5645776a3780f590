/** The node as one port for the agent loop: rtnetlink for devices/routes/neighbours, iptables-restore for NAT. */
import type { Family } from '../netconfig/ip.js';
import type { HostState, Plan } from './diff.js';
import { loadNat, writeNat } from './iptables.js';
import { NetlinkHost } from './netlink-host.js';

export interface HostPort {
  load(): Promise<HostState>;
  apply(plan: Plan): Promise<string[]>;
  close(): void;
}

export class KernelHost implements HostPort {
  private readonly nl: NetlinkHost;

  constructor(inFlight?: number) {
    this.nl = new NetlinkHost(inFlight);
  }

  async load(): Promise<HostState> {
    // iptables-save runs as a separate process: overlap it with the netlink dumps.
    const [base, n4, n6] = await Promise.all([this.nl.load(), loadNat(4), loadNat(6)]);
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

  close(): void {
    this.nl.close();
  }
}
