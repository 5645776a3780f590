/**
 * Pure diff between the desired NodeConfig spec and what the node has, so an unchanged
 * config writes nothing and a changed one writes only the difference.
 */
import type { Arp, Device, Fdb, IptablesRule, NodeConfigSpec, Route } from '../../api/kinds.js';
import { type FieldError, formatFieldError, invalid } from '../../api/field-errors.js';
import {
  type Family,
  checkCIDR,
  checkIP,
  formatIP,
  normalizeCIDR,
  parseCIDR,
  parseIP,
} from '../../common/ip.js';
import { MANAGED_DEVICES, deviceFamily } from './devices.js';
import { forwardRules } from './node-settings.js';

export { MANAGED_DEVICES, deviceFamily };

/** What the agent reads back from the kernel: the same shapes as the spec. */
export interface HostState {
  devices: Device[];
  routes: Route[];
  fdbs: Fdb[];
  arps: Arp[];
  /** nat rules per family, chain as in the spec (PREROUTING / POSTROUTING), or undefined if the chains are missing. */
  iptables: Record<Family, IptablesRule[] | undefined>;
  /** filter rules of CLUSTERLINK-FORWARD per family (chain FORWARD), or undefined if the chain or its jump is missing. */
  forward: Record<Family, IptablesRule[] | undefined>;
  /** Whether `pref 200 lookup 200` exists, per family. */
  rules: Record<Family, boolean>;
}

export interface Plan {
  delDevices: Device[];
  addDevices: Device[];
  delRoutes: Route[];
  addRoutes: Route[];
  delFdbs: Fdb[];
  addFdbs: Fdb[];
  delArps: Arp[];
  addArps: Arp[];
  /** Full desired chain contents for each family whose nat chains differ. */
  iptables: Partial<Record<Family, IptablesRule[]>>;
  /** Full desired CLUSTERLINK-FORWARD contents for each family whose chain differs (see node-settings.ts). */
  forward: Partial<Record<Family, IptablesRule[]>>;
  addRules: Family[];
  delRules: Family[];
}

export const emptyPlan = (p: Plan): boolean =>
  p.delDevices.length +
    p.addDevices.length +
    p.delRoutes.length +
    p.addRoutes.length +
    p.delFdbs.length +
    p.addFdbs.length +
    p.delArps.length +
    p.addArps.length +
    p.addRules.length +
    p.delRules.length ===
    0 &&
  Object.keys(p.iptables).length === 0 &&
  Object.keys(p.forward).length === 0;

export const planSize = (p: Plan): number =>
  p.delDevices.length +
  p.addDevices.length +
  p.delRoutes.length +
  p.addRoutes.length +
  p.delFdbs.length +
  p.addFdbs.length +
  p.delArps.length +
  p.addArps.length +
  Object.keys(p.iptables).length +
  Object.keys(p.forward).length +
  p.addRules.length +
  p.delRules.length;

const ruleFamily = (r: IptablesRule): Family => (r.rule.includes(':') ? 6 : 4);

/** Families whose iptables rules (NAT, or FORWARD accepts for a device) the spec wants. */
export const natFamilies = (spec: NodeConfigSpec): Family[] => {
  const fwd = forwardRules(spec);
  return ([4, 6] as const).filter(
    (f) => (spec.iptables ?? []).some((r) => ruleFamily(r) === f) || fwd[f].length > 0,
  );
};

/**
 * Check and canonicalise a desired spec (CIDRs to network address, compressed IPv6, lower-case
 * MACs) before touching the kernel; a spec with any error is refused as a whole so the
 * previous state stays in place.
 */
export function canonicalSpec(spec: NodeConfigSpec): { spec: Required<NodeConfigSpec>; errors: string[] } {
  const errors: string[] = [];
  const mac = (field: string, m: string) => {
    if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(m))
      errors.push(formatFieldError(invalid(field, m, 'must be a MAC address')));
    return m.toLowerCase();
  };
  const ip = (field: string, s: string) => {
    const p = parseIP(s);
    if (!p) {
      errors.push(formatFieldError(checkIP(field, s) as FieldError));
      return s;
    }
    return formatIP(p);
  };
  const devices = (spec.devices ?? []).map((d, i) => {
    const f = `spec.devices[${i}]`;
    if (!MANAGED_DEVICES.includes(d.name))
      errors.push(
        formatFieldError(invalid(`${f}.name`, d.name, `must be one of ${MANAGED_DEVICES.join(', ')}`)),
      );
    const c = parseCIDR(d.addr);
    const slash = d.addr.indexOf('/');
    const addrIP = slash > 0 ? parseIP(d.addr.slice(0, slash)) : undefined;
    if (!c || !addrIP || c.family !== deviceFamily(d.name))
      errors.push(
        formatFieldError(
          invalid(`${f}.addr`, d.addr, `must be an IPv${deviceFamily(d.name)} address with prefix length`),
        ),
      );
    return {
      ...d,
      addr: addrIP && c ? `${formatIP(addrIP)}/${c.prefix}` : d.addr,
      mac: mac(`${f}.mac`, d.mac),
    };
  });
  const routes = (spec.routes ?? []).map((r, i) => {
    const cidr = normalizeCIDR(r.cidr);
    const bad = checkCIDR(`spec.routes[${i}].cidr`, r.cidr);
    if (bad) errors.push(formatFieldError(bad));
    return { cidr: cidr ?? r.cidr, gw: ip(`spec.routes[${i}].gw`, r.gw), dev: r.dev };
  });
  const fdbs = (spec.fdbs ?? []).map((x, i) => ({
    ip: ip(`spec.fdbs[${i}].ip`, x.ip),
    mac: mac(`spec.fdbs[${i}].mac`, x.mac),
    dev: x.dev,
  }));
  const arps = (spec.arps ?? []).map((x, i) => ({
    ip: ip(`spec.arps[${i}].ip`, x.ip),
    mac: mac(`spec.arps[${i}].mac`, x.mac),
    dev: x.dev,
  }));
  const iptables = (spec.iptables ?? []).map((r, i) => {
    if (r.table !== 'nat' || (r.chain !== 'PREROUTING' && r.chain !== 'POSTROUTING'))
      errors.push(
        formatFieldError(
          invalid(
            `spec.iptables[${i}]`,
            `${r.table}/${r.chain}`,
            'only nat PREROUTING and POSTROUTING are managed',
          ),
        ),
      );
    if (/[\n\r]/.test(r.rule))
      errors.push(formatFieldError(invalid(`spec.iptables[${i}].rule`, r.rule, 'must be one line')));
    return r;
  });
  const known = new Set(devices.map((d) => d.name));
  for (const [list, name] of [
    [routes, 'routes'],
    [fdbs, 'fdbs'],
    [arps, 'arps'],
  ] as const) {
    list.forEach((x, i) => {
      if (!known.has(x.dev))
        errors.push(
          formatFieldError(invalid(`spec.${name}[${i}].dev`, x.dev, 'must name a device of spec.devices')),
        );
    });
  }
  return { spec: { devices, routes, fdbs, arps, iptables }, errors };
}

// Field values joined in a fixed key order: as exact as sorted-key JSON and much cheaper for
// thousands of entries per sync.
const key = (x: object) =>
  Object.keys(x)
    .sort()
    .map((k) => `${k}=${String((x as Record<string, unknown>)[k])}`)
    .join('\0');

function setDiff<T extends object>(want: readonly T[], have: readonly T[]): { add: T[]; del: T[] } {
  const w = new Map(want.map((x) => [key(x), x]));
  const h = new Map(have.map((x) => [key(x), x]));
  return {
    add: [...w].filter(([k]) => !h.has(k)).map(([, v]) => v),
    del: [...h].filter(([k]) => !w.has(k)).map(([, v]) => v),
  };
}

export function diff(want: Required<NodeConfigSpec>, have: HostState): Plan {
  const devices = setDiff(want.devices, have.devices);
  // A recreated device loses its routes and neighbours in the kernel: they must be re-added
  // in this pass (the reference waited for the next 30 s cycle) and need no delete.
  const recreated = new Set([...devices.del.map((d) => d.name)]);
  const onLive = <T extends { dev: string }>(list: readonly T[]) => list.filter((x) => !recreated.has(x.dev));
  const routes = setDiff(want.routes, onLive(have.routes));
  const fdbs = setDiff(want.fdbs, onLive(have.fdbs));
  const arps = setDiff(want.arps, onLive(have.arps));
  const iptables: Partial<Record<Family, IptablesRule[]>> = {};
  const forward: Partial<Record<Family, IptablesRule[]>> = {};
  const wantForward = forwardRules(want);
  // Chains exist only when the family is used; a missing chain with no rules wanted is fine.
  const differs = (w: IptablesRule[], h: IptablesRule[] | undefined) => {
    const d = h ? setDiff(w, h) : undefined;
    return (h === undefined && w.length > 0) || (d !== undefined && (d.add.length > 0 || d.del.length > 0));
  };
  for (const f of [4, 6] as const) {
    const w = want.iptables.filter((r) => ruleFamily(r) === f);
    if (differs(w, have.iptables[f])) iptables[f] = w;
    if (differs(wantForward[f], have.forward[f])) forward[f] = wantForward[f];
  }
  const wantRule = (f: Family) => want.devices.some((d) => deviceFamily(d.name) === f);
  return {
    delDevices: devices.del,
    addDevices: devices.add,
    delRoutes: routes.del,
    addRoutes: routes.add,
    delFdbs: fdbs.del.filter((x) => x.mac !== 'ff:ff:ff:ff:ff:ff'),
    addFdbs: fdbs.add,
    delArps: arps.del,
    addArps: arps.add,
    iptables,
    forward,
    addRules: ([4, 6] as const).filter((f) => wantRule(f) && !have.rules[f]),
    delRules: ([4, 6] as const).filter((f) => !wantRule(f) && have.rules[f]),
  };
}
