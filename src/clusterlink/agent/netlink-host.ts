/**
 * The node's kernel as the agent sees it: read vxlan devices, table-200 routes, FDB and
 * permanent neighbours with rtnetlink dumps, and write a Plan with a bounded number of
 * rtnetlink requests in flight. Runs in the network namespace of the calling process.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { type RtNetlinkSocket, createRtNetlink, rt } from 'netlink';
import { ROUTE_TABLE, RULE_PRIORITY } from '../../api/constants.js';
import type { Arp, Device, Fdb, Route } from '../../api/kinds.js';
import { KosmosError, describeError } from '../../common/errors.js';
import { type Family, formatIP, parseIP } from '../netconfig/ip.js';
import { type HostState, MANAGED_DEVICES, type Plan, deviceFamily } from './diff.js';
import { be16, cstr, decodeAttrs, encodeAttrs, u32, u8 } from './nlattr.js';
import { inPool } from './pool.js';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_BRIDGE = 7;
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLM_F_APPEND = 0x800;
const RTNH_F_ONLINK = 4;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_VXLAN_ID = 1;
const IFLA_VXLAN_LINK = 3;
const IFLA_VXLAN_LOCAL = 4;
const IFLA_VXLAN_LEARNING = 7;
const IFLA_VXLAN_PORT = 15;
const IFLA_VXLAN_LOCAL6 = 17;
/** Outer IP + UDP + VXLAN + inner Ethernet: 50 bytes over IPv4, 70 over IPv6 (the reference used 50 for both). */
export const VXLAN_OVERHEAD: Record<Family, number> = { 4: 50, 6: 70 };
export const DEFAULT_IN_FLIGHT = 32;

const af = (f: Family) => (f === 4 ? AF_INET : AF_INET6);
const macText = (b: Buffer | undefined) =>
  b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
const macBuf = (m: string) => Buffer.from(m.split(':').map((h) => parseInt(h, 16)));
const ipText = (b: Buffer | undefined): string | undefined => {
  if (!b) return undefined;
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const v = [...b].reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
    return formatIP({ family: 6, value: v });
  }
  return undefined;
};
const ipBuf = (s: string): Buffer => {
  const ip = parseIP(s);
  if (!ip) throw new KosmosError(`not an IP address: ${s}`);
  const n = ip.family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Number((ip.value >> BigInt(8 * (n - 1 - i))) & 0xffn);
  return b;
};

interface LinkInfo {
  index: number;
  name: string;
  mtu: number;
  mac: string;
  kind?: string;
  vni?: number;
  port?: number;
  linkIndex?: number;
}

export class NetlinkHost {
  private readonly sock: RtNetlinkSocket;
  private links = new Map<string, LinkInfo>();
  private readonly inFlight: number;

  constructor(inFlight = DEFAULT_IN_FLIGHT) {
    this.inFlight = inFlight;
    this.sock = createRtNetlink();
  }

  close(): void {
    this.sock.socket.close();
  }

  private async readLinks(): Promise<Map<string, LinkInfo>> {
    const msgs = await this.sock.getLinks();
    const out = new Map<string, LinkInfo>();
    for (const m of msgs) {
      const name = m.attrs.ifname ?? '';
      const info: LinkInfo = {
        index: m.data.index ?? 0,
        name,
        mtu: m.attrs.mtu ?? 0,
        mac: macText(m.attrs.address),
      };
      if (m.attrs.linkinfo) {
        const li = decodeAttrs(m.attrs.linkinfo);
        info.kind = li.get(IFLA_INFO_KIND)?.toString('utf8').replace(/\0+$/, '');
        const data = li.get(IFLA_INFO_DATA);
        if (info.kind === 'vxlan' && data) {
          const d = decodeAttrs(data);
          info.vni = d.get(IFLA_VXLAN_ID)?.readUInt32LE(0);
          info.port = d.get(IFLA_VXLAN_PORT)?.readUInt16BE(0);
          info.linkIndex = d.get(IFLA_VXLAN_LINK)?.readUInt32LE(0);
        }
      }
      out.set(name, info);
    }
    this.links = out;
    return out;
  }

  /** Read every managed object from the kernel. Any failure fails the whole load: nothing is applied on partial knowledge. */
  async load(): Promise<Omit<HostState, 'iptables'>> {
    // One dump at a time: the kernel answers EBUSY to a second dump on the same socket.
    const links = await this.readLinks();
    const addrs = await this.sock.getAddresses();
    const routes = await this.sock.getRoutes({ family: 0 });
    const fdbs = await this.sock.getNeighbors({ family: AF_BRIDGE });
    const n4 = await this.sock.getNeighbors({ family: AF_INET });
    const n6 = await this.sock.getNeighbors({ family: AF_INET6 });
    const r4 = await this.sock.getRules({ family: AF_INET });
    const r6 = await this.sock.getRules({ family: AF_INET6 });
    const byIndex = new Map([...links.values()].map((l) => [l.index, l]));
    const managed = new Map<number, string>();
    const devices: Device[] = [];
    for (const name of MANAGED_DEVICES) {
      const l = links.get(name);
      if (!l) continue;
      if (l.kind !== 'vxlan')
        throw new KosmosError(
          `link ${name} exists but is a ${l.kind ?? 'device of unknown kind'}, not vxlan`,
        );
      managed.set(l.index, name);
      const fam = af(deviceFamily(name));
      const a = addrs.find(
        (x) => x.data.index === l.index && x.data.family === fam && (x.data.scope ?? 0) === 0,
      );
      const ip = ipText(a?.attrs.local ?? a?.attrs.address);
      devices.push({
        type: 'vxlan',
        name,
        addr: ip ? `${ip}/${a?.data.prefixlen ?? 0}` : '<nil>',
        mac: l.mac,
        bindDev: (l.linkIndex !== undefined && byIndex.get(l.linkIndex)?.name) || '',
        id: l.vni ?? 0,
        port: l.port ?? 0,
      });
    }
    const table = (m: { data: rt.Route; attrs: rt.RouteAttrs }) => m.attrs.table ?? m.data.table;
    const outRoutes: Route[] = [];
    for (const m of routes) {
      const dev = managed.get(m.attrs.oif ?? -1);
      if (!dev || table(m) !== ROUTE_TABLE || !m.attrs.gateway) continue;
      const dst = ipText(m.attrs.dst) ?? (m.data.family === AF_INET ? '0.0.0.0' : '::');
      outRoutes.push({ cidr: `${dst}/${m.data.dstLen ?? 0}`, gw: ipText(m.attrs.gateway) ?? '', dev });
    }
    const outFdbs: Fdb[] = [];
    for (const m of fdbs) {
      const dev = managed.get(m.data.ifindex ?? -1);
      const ip = ipText(m.attrs.dst);
      if (dev && ip) outFdbs.push({ ip, mac: macText(m.attrs.lladdr), dev });
    }
    const outArps: Arp[] = [];
    for (const m of [...n4, ...n6]) {
      const dev = managed.get(m.data.ifindex ?? -1);
      const ip = ipText(m.attrs.dst);
      if (dev && ip && m.data.state?.permanent && m.attrs.lladdr)
        outArps.push({ ip, mac: macText(m.attrs.lladdr), dev });
    }
    const hasRule = (list: rt.RuleMessage[]) =>
      list.some((r) => r.attrs.priority === RULE_PRIORITY && (r.attrs.table ?? r.data.table) === ROUTE_TABLE);
    return {
      devices,
      routes: outRoutes,
      fdbs: outFdbs,
      arps: outArps,
      rules: { 4: hasRule(r4), 6: hasRule(r6) },
    };
  }

  private index(dev: string): number {
    const l = this.links.get(dev);
    if (!l) throw new KosmosError(`device ${dev} does not exist`);
    return l.index;
  }

  /** Apply a plan; every item is attempted and all errors are returned, each saying what failed. */
  async apply(plan: Plan): Promise<string[]> {
    const errors: string[] = [];
    const run = async <T>(
      what: string,
      items: readonly T[],
      fn: (x: T) => Promise<unknown>,
      label: (x: T) => string,
    ) => {
      const errs = await inPool(items, this.inFlight, async (x) => {
        try {
          await fn(x);
        } catch (err) {
          throw new KosmosError(`${what} ${label(x)}: ${describeError(err)}`);
        }
      });
      for (const e of errs) errors.push(describeError(e));
    };
    const nb = (x: Fdb | Arp) => `${x.ip} ${x.mac} dev ${x.dev}`;
    const rtLabel = (r: Route) => `${r.cidr} via ${r.gw} dev ${r.dev}`;
    const gone = new Set(plan.delDevices.map((d) => d.name));
    await run(
      'delete arp',
      plan.delArps.filter((x) => !gone.has(x.dev)),
      (x) => this.neigh('del', x, false),
      nb,
    );
    await run(
      'delete fdb',
      plan.delFdbs.filter((x) => !gone.has(x.dev)),
      (x) => this.neigh('del', x, true),
      nb,
    );
    await run(
      'delete route',
      plan.delRoutes.filter((x) => !gone.has(x.dev)),
      (r) => this.route('del', r),
      rtLabel,
    );
    await run(
      'delete device',
      plan.delDevices,
      (d) => this.sock.delLink({ index: this.index(d.name) }),
      (d) => d.name,
    );
    await run(
      'delete rule',
      plan.delRules,
      (f) => this.rule('del', f),
      (f) => `IPv${f} pref ${RULE_PRIORITY}`,
    );
    await this.readLinks();
    // Devices one by one: creating one involves dumps, and the kernel allows one dump per socket at a time.
    for (const d of plan.addDevices)
      await run(
        'create device',
        [d],
        (x) => this.addDevice(x),
        (x) => x.name,
      );
    await this.readLinks();
    await run(
      'create rule',
      plan.addRules,
      (f) => this.rule('new', f),
      (f) => `IPv${f} pref ${RULE_PRIORITY}`,
    );
    await run('create arp', plan.addArps, (x) => this.neigh('new', x, false), nb);
    await run('create fdb', plan.addFdbs, (x) => this.neigh('new', x, true), nb);
    await run('create route', plan.addRoutes, (r) => this.route('new', r), rtLabel);
    return errors;
  }

  private async addDevice(d: Device): Promise<void> {
    const f = deviceFamily(d.name);
    const bind = this.links.get(d.bindDev);
    if (!bind) throw new KosmosError(`bind device ${d.bindDev} does not exist`);
    const addrs = await this.sock.getAddresses();
    const local = addrs.find(
      (a) => a.data.index === bind.index && a.data.family === af(f) && (a.data.scope ?? 0) === 0,
    );
    const localIP = local?.attrs.local ?? local?.attrs.address;
    if (!localIP) throw new KosmosError(`bind device ${d.bindDev} has no global IPv${f} address`);
    // A device in the way (a stale one with other parameters) was deleted by the plan; one that is
    // not vxlan at all fails the load, so EEXIST here is a real error.
    const data = encodeAttrs([
      { type: IFLA_VXLAN_ID, value: u32(d.id) },
      { type: IFLA_VXLAN_LINK, value: u32(bind.index) },
      { type: f === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, value: localIP },
      { type: IFLA_VXLAN_LEARNING, value: u8(0) },
      { type: IFLA_VXLAN_PORT, value: be16(d.port) },
    ]);
    const linkinfo = encodeAttrs([
      { type: IFLA_INFO_KIND, value: cstr('vxlan') },
      { type: IFLA_INFO_DATA | 0x8000, value: data },
    ]);
    await this.sock.newLink(
      { flags: { up: true }, change: { up: true } },
      { ifname: d.name, mtu: bind.mtu - VXLAN_OVERHEAD[f], address: macBuf(d.mac), linkinfo },
      { flags: NLM_F_CREATE | NLM_F_EXCL },
    );
    const links = await this.readLinks();
    const index = links.get(d.name)?.index;
    if (index === undefined) throw new KosmosError(`device ${d.name} vanished after creation`);
    const [ip, prefix] = d.addr.split('/');
    await this.sock.newAddress(
      { family: af(f), prefixlen: Number(prefix), index, flags: { nodad: true } },
      { local: ipBuf(ip ?? ''), address: ipBuf(ip ?? '') },
      { flags: NLM_F_CREATE | NLM_F_REPLACE },
    );
    // Loose reverse-path filtering: replies from remote clusters arrive on other devices than
    // the route back would use (gateway mode is asymmetric by design).
    if (f === 4) {
      await setSysctl(`/proc/sys/net/ipv4/conf/${d.name}/rp_filter`, '2');
      await setSysctl(`/proc/sys/net/ipv4/conf/${d.bindDev}/rp_filter`, '2');
    } else await setSysctl(`/proc/sys/net/ipv6/conf/${d.name}/disable_ipv6`, '0');
  }

  private async rule(op: 'new' | 'del', f: Family): Promise<void> {
    const data = { family: af(f), action: 'toTbl' as const, table: ROUTE_TABLE };
    const attrs = { priority: RULE_PRIORITY, table: ROUTE_TABLE };
    if (op === 'new') await this.sock.newRule(data, attrs, { flags: NLM_F_CREATE | NLM_F_EXCL });
    else await this.sock.delRule(data, attrs);
  }

  private async route(op: 'new' | 'del', r: Route): Promise<void> {
    const [ip, prefix] = r.cidr.split('/');
    const f = deviceFamily(r.dev);
    const data: rt.Route = {
      family: af(f),
      dstLen: Number(prefix),
      table: ROUTE_TABLE,
      protocol: 'STATIC',
      scope: 'UNIVERSE',
      type: 'UNICAST',
      flags: { __unknown: RTNH_F_ONLINK },
    };
    const attrs: rt.RouteAttrs = {
      dst: ipBuf(ip ?? ''),
      gateway: ipBuf(r.gw),
      oif: this.index(r.dev),
      table: ROUTE_TABLE,
    };
    if (op === 'new') await this.sock.newRoute(data, attrs, { flags: NLM_F_CREATE | NLM_F_REPLACE });
    else await this.sock.delRoute(data, attrs);
  }

  private async neigh(op: 'new' | 'del', x: Fdb | Arp, fdb: boolean): Promise<void> {
    const ifindex = this.index(x.dev);
    if (fdb) {
      const data: rt.Neighbor = {
        family: AF_BRIDGE,
        ifindex,
        state: { permanent: true, noarp: true },
        flags: { self: true },
      };
      const attrs = { lladdr: macBuf(x.mac), dst: ipBuf(x.ip) };
      // APPEND: several all-zero (flood) entries with different destinations coexist.
      if (op === 'new') await this.sock.newNeighbor(data, attrs, { flags: NLM_F_CREATE | NLM_F_APPEND });
      else await this.sock.delNeighbor(data, attrs);
    } else {
      const data: rt.Neighbor = { family: af(deviceFamily(x.dev)), ifindex, state: { permanent: true } };
      const attrs = { dst: ipBuf(x.ip), lladdr: macBuf(x.mac) };
      if (op === 'new') await this.sock.newNeighbor(data, attrs, { flags: NLM_F_CREATE | NLM_F_REPLACE });
      else await this.sock.delNeighbor(data, { dst: attrs.dst });
    }
  }
}

async function setSysctl(path: string, value: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')).trim() === value) return;
    await writeFile(path, value);
  } catch (err) {
    throw new KosmosError(`sysctl ${path}=${value}`, { cause: err });
  }
}
