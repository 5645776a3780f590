import { describe, expect, it } from 'vitest';
import type { NodeConfig, NodeConfigSpec, NodeConfigStatus } from '../../../src/api/kinds.js';
import { Agent } from '../../../src/clusterlink/agent/agent.js';
import type { HostState, Plan } from '../../../src/clusterlink/agent/diff.js';
import type { HostPort } from '../../../src/clusterlink/agent/kernel-host.js';
import { sysctlsFor } from '../../../src/clusterlink/agent/node-settings.js';
import type { ChangeEvent, NodeConfigStore, Watchable } from '../../../src/clusterlink/store/types.js';
import { createLogger } from '../../../src/common/logger.js';

const dev = {
  type: 'vxlan' as const,
  name: 'vx-bridge',
  addr: '220.0.0.1/8',
  mac: '02:00:00:00:00:01',
  bindDev: 'eth0',
  id: 54,
  port: 4876,
};
const route = { cidr: '10.1.0.0/16', gw: '220.0.0.2', dev: 'vx-bridge' };

/** A node whose kernel is a HostState in memory; apply() records plans and mutates the state. */
class FakeHost implements HostPort {
  state: HostState = {
    devices: [],
    routes: [],
    fdbs: [],
    arps: [],
    iptables: { 4: undefined, 6: undefined },
    forward: { 4: undefined, 6: undefined },
    rules: { 4: false, 6: false },
  };
  /** /proc/sys as the fake node has it; enforceSysctls writes there. */
  sysctls = new Map<string, string>();
  applied: Plan[] = [];
  /** What the node's NIC detection finds, by family, and the addresses it was asked about. */
  nics: Partial<Record<4 | 6, string>> = {};
  askedFor: string[][] = [];
  async detectNic(f: 4 | 6, nodeIPs: readonly string[]): Promise<string | undefined> {
    this.askedFor.push([...nodeIPs]);
    return this.nics[f];
  }
  async load(): Promise<HostState> {
    return structuredClone(this.state);
  }
  async apply(p: Plan): Promise<string[]> {
    this.applied.push(p);
    const s = this.state;
    s.devices = [...s.devices.filter((d) => !p.delDevices.some((x) => x.name === d.name)), ...p.addDevices];
    s.routes = [...s.routes.filter((r) => !p.delRoutes.some((x) => x.cidr === r.cidr)), ...p.addRoutes];
    for (const f of p.addRules) s.rules[f] = true;
    for (const f of p.delRules) s.rules[f] = false;
    for (const f of [4, 6] as const) {
      if (p.iptables[f]) s.iptables[f] = p.iptables[f];
      if (p.forward[f]) s.forward[f] = p.forward[f];
    }
    return [];
  }
  async enforceSysctls(
    spec: Pick<NodeConfigSpec, 'devices'>,
  ): Promise<{ changed: number; errors: string[] }> {
    const links = ['lo', 'eth0', 'ens5', 'vxlan.calico', ...this.state.devices.map((d) => d.name)];
    let changed = 0;
    for (const x of sysctlsFor(spec, links)) {
      if (this.sysctls.get(x.path) === x.value) continue;
      this.sysctls.set(x.path, x.value);
      changed++;
    }
    return { changed, errors: [] };
  }
  close(): void {}
}

class FakeStore implements NodeConfigStore, Watchable {
  obj: NodeConfig | undefined;
  statuses: NodeConfigStatus[] = [];
  async getNodeConfig(): Promise<NodeConfig | undefined> {
    return this.obj && structuredClone(this.obj);
  }
  async listNodeConfigs(): Promise<NodeConfig[]> {
    return this.obj ? [this.obj] : [];
  }
  async putNodeConfigSpec(name: string, spec: NodeConfigSpec): Promise<number> {
    const generation = (this.obj?.metadata.generation ?? 0) + 1;
    this.obj = { apiVersion: 'kosmos.io/v1alpha1', kind: 'NodeConfig', metadata: { name, generation }, spec };
    return generation;
  }
  async deleteNodeConfig(): Promise<void> {
    this.obj = undefined;
  }
  async putNodeConfigStatus(_name: string, status: NodeConfigStatus): Promise<void> {
    this.statuses.push(status);
    if (this.obj) this.obj.status = status;
  }
  async watch(_f: (e: ChangeEvent) => void) {
    return async () => undefined;
  }
}

const log = createLogger('test', {}, () => undefined);
const agent = (store: FakeStore, host: FakeHost) =>
  new Agent({ name: 'c-n1', store, host, log, resyncMs: 3_600_000 });

describe('agent loop', () => {
  it('GIVEN a device bound to "*" THEN it is bound to the NIC holding the node address, and a resync changes nothing', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    host.nics = { 4: 'ens5' };
    await store.putNodeConfigSpec('c-n1', { devices: [{ ...dev, bindDev: '*' }], routes: [route] });
    const a = new Agent({ name: 'c-n1', store, host, log, resyncMs: 3_600_000, nodeIPs: ['192.0.2.7'] });
    await a.trigger();
    expect(host.state.devices.map((d) => d.bindDev)).toEqual(['ens5']);
    expect(host.askedFor[0]).toEqual(['192.0.2.7']);
    expect(store.obj?.status?.error).toBeUndefined();
    expect((await a.trigger())?.changed).toBe(0);
  });

  it('GIVEN a device bound to "*" on a node where no NIC can be found THEN nothing is applied and status.error says what to set', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    await store.putNodeConfigSpec('c-n1', { devices: [{ ...dev, bindDev: '*' }], routes: [route] });
    await agent(store, host).trigger();
    expect(host.applied).toEqual([]);
    expect(store.obj?.status?.error).toMatch(
      /spec.devices\[0\].bindDev: Invalid value: "\*": no interface holds a node address and there is no IPv4 default route; set the cluster's defaultNICName/,
    );
  });

  it('GIVEN a NodeConfig THEN it is applied once, status says which generation, and a resync writes nothing', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    await store.putNodeConfigSpec('c-n1', { devices: [dev], routes: [route] });
    const a = agent(store, host);
    const first = await a.trigger();
    expect(first?.changed).toBeGreaterThan(0);
    expect(store.obj?.status).toMatchObject({ appliedGeneration: 1 });
    expect(store.obj?.status?.error).toBeUndefined();
    const again = await a.trigger();
    expect(again?.changed).toBe(0);
    expect(host.applied).toHaveLength(1);
  });

  it('GIVEN a linked node THEN its FORWARD accepts and rp_filter are in place, and a resync puts back what someone reset', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    await store.putNodeConfigSpec('c-n1', { devices: [dev], routes: [route] });
    const a = agent(store, host);
    await a.trigger();
    expect(host.state.forward[4]?.map((r) => r.rule)).toEqual([
      '-i vx-bridge -j ACCEPT',
      '-o vx-bridge -j ACCEPT',
    ]);
    expect(host.sysctls.get('net/ipv4/conf/vxlan.calico/rp_filter')).toBe('2');
    // Someone (a CNI restart, an administrator) resets both.
    host.state.forward[4] = undefined;
    host.sysctls.set('net/ipv4/conf/vx-bridge/rp_filter', '1');
    const again = await a.trigger();
    expect(again?.changed).toBe(2);
    expect(host.state.forward[4]).toHaveLength(2);
    expect(host.sysctls.get('net/ipv4/conf/vx-bridge/rp_filter')).toBe('2');
    expect((await a.trigger())?.changed).toBe(0);
  });

  it('GIVEN an invalid spec after a good one THEN the kernel keeps the good state and status.error says why', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    await store.putNodeConfigSpec('c-n1', { devices: [dev], routes: [route] });
    const a = agent(store, host);
    await a.trigger();
    await store.putNodeConfigSpec('c-n1', { devices: [dev], routes: [{ ...route, cidr: 'nonsense' }] });
    const r = await a.trigger();
    expect(r?.changed).toBe(0);
    expect(host.state.routes).toEqual([route]);
    expect(store.obj?.status?.error).toMatch(
      /generation 2 refused, keeping generation 1: spec.routes\[0\].cidr: Invalid value: "nonsense"/,
    );
    expect(store.obj?.status?.appliedGeneration).toBe(1);
  });

  it('GIVEN the first NodeConfig is invalid THEN nothing is written to the kernel (desired state stays unknown)', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    host.state.routes = [route];
    host.state.devices = [dev];
    await store.putNodeConfigSpec('c-n1', { devices: [dev], routes: [{ ...route, gw: 'x' }] });
    await agent(store, host).trigger();
    expect(host.applied).toEqual([]);
    expect(store.statuses.at(-1)?.error).toMatch(/keeping generation none/);
  });

  it('GIVEN the NodeConfig is deleted THEN the node is torn down', async () => {
    const store = new FakeStore();
    const host = new FakeHost();
    await store.putNodeConfigSpec('c-n1', { devices: [dev], routes: [route] });
    const a = agent(store, host);
    await a.trigger();
    await store.deleteNodeConfig();
    await a.trigger();
    expect(host.state.devices).toEqual([]);
    expect(host.state.rules[4]).toBe(false);
  });
});
