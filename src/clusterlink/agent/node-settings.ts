/**
 * What a node needs besides its NodeConfig's devices, routes and neighbours for tunnelled
 * traffic to flow, as pure functions of the desired spec (and, for sysctls, of the links the
 * node has). The agent enforces both on every sync, so a CNI restart or an administrator
 * resetting them is repaired at the next resync.
 *
 * - filter FORWARD: `-i <dev> -j ACCEPT` and `-o <dev> -j ACCEPT` for every tunnel device, in
 *   the agent's own chain CLUSTERLINK-FORWARD (jumped to from the top of FORWARD). Nodes often
 *   have a FORWARD policy of DROP (Docker, some distributions), which would drop remote pods'
 *   traffic after decapsulation and local pods' traffic into the tunnel. The Go agent accepted
 *   `-o <bindDev>` too, which opens forwarding to the whole NIC; every ClusterLink packet enters
 *   or leaves through a tunnel device, so these two rules per device are enough.
 * - rp_filter=2 (loose) on the IPv4 tunnel devices, their NICs and the CNI's devices (Calico's
 *   `tunl0` and `vxlan.calico`, Flannel's `flannel*`, and any the operator names): replies from
 *   other clusters arrive on another device than the route back to their source leaves
 *   through (gateway mode is asymmetric by design), which strict filtering drops. The kernel
 *   uses the higher of `all` and the device's value, so 2 on the device wins over `all=1`.
 * - disable_ipv6=0 on the IPv6 tunnel devices, which need an address.
 */
import { CHAIN_FORWARD } from '../../api/constants.js';
import type { IptablesRule, NodeConfigSpec } from '../../api/kinds.js';
import type { Family } from '../../common/ip.js';
import { deviceFamily } from './devices.js';

/** The CNI devices the Go agent loosened (plus its env AGENT_RP_FILTER_DEVICES); `*` ends a prefix. */
export const DEFAULT_RP_FILTER_DEVICES: readonly string[] = ['tunl0', 'vxlan.calico', 'flannel*'];

export const FORWARD_TABLE = 'filter';
export const FORWARD_CHAIN = 'FORWARD';
export { CHAIN_FORWARD };

/** The FORWARD accepts of each family, in the spec's shape (chain FORWARD stands for CLUSTERLINK-FORWARD). */
export function forwardRules(spec: Pick<NodeConfigSpec, 'devices'>): Record<Family, IptablesRule[]> {
  const out: Record<Family, IptablesRule[]> = { 4: [], 6: [] };
  for (const d of [...(spec.devices ?? [])].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const dir of ['-i', '-o'])
      out[deviceFamily(d.name)].push({
        table: FORWARD_TABLE,
        chain: FORWARD_CHAIN,
        rule: `${dir} ${d.name} -j ACCEPT`,
      });
  }
  return out;
}

export interface Sysctl {
  /** Relative to /proc/sys, e.g. `net/ipv4/conf/vx-bridge/rp_filter`. */
  path: string;
  value: string;
}

const matches = (pattern: string, link: string): boolean =>
  pattern.endsWith('*') ? link.startsWith(pattern.slice(0, -1)) : link === pattern;

/**
 * The sysctls to hold, for the links the node has now (a device the spec wants but the kernel
 * refused to create has no sysctl directory, so it is left out rather than reported twice).
 */
export function sysctlsFor(
  spec: Pick<NodeConfigSpec, 'devices'>,
  links: readonly string[],
  rpFilterDevices: readonly string[] = DEFAULT_RP_FILTER_DEVICES,
): Sysctl[] {
  const have = new Set(links);
  const loose = new Set<string>();
  const v6 = new Set<string>();
  for (const d of spec.devices ?? []) {
    if (deviceFamily(d.name) === 4) {
      loose.add(d.name);
      loose.add(d.bindDev);
    } else v6.add(d.name);
  }
  // CNI devices only matter while the node is linked.
  if ((spec.devices ?? []).length > 0)
    for (const l of links) if (rpFilterDevices.some((p) => matches(p, l))) loose.add(l);
  return [
    ...[...loose]
      .filter((l) => have.has(l))
      .map((l) => ({ path: `net/ipv4/conf/${l}/rp_filter`, value: '2' })),
    ...[...v6]
      .filter((l) => have.has(l))
      .map((l) => ({ path: `net/ipv6/conf/${l}/disable_ipv6`, value: '0' })),
  ].sort((a, b) => a.path.localeCompare(b.path));
}

/** `--rp-filter-devices a,b*`: device names, `*` at the end for a prefix. */
export function parseDeviceList(value: string): string[] {
  return value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
