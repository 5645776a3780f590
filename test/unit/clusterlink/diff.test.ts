import { describe, expect, it } from 'vitest';
import { type HostState, canonicalSpec, diff, emptyPlan } from '../../../src/clusterlink/agent/diff.js';
import { forwardRules } from '../../../src/clusterlink/agent/node-settings.js';

const dev = {
  type: 'vxlan' as const,
  name: 'vx-bridge',
  addr: '220.0.0.1/8',
  mac: '02:00:00:00:00:01',
  bindDev: 'eth0',
  id: 54,
  port: 4876,
};
const host = (over: Partial<HostState> = {}): HostState => ({
  devices: [dev],
  routes: [],
  fdbs: [],
  arps: [],
  iptables: { 4: [], 6: [] },
  forward: forwardRules({ devices: [dev] }),
  rules: { 4: true, 6: false },
  ...over,
});

describe('agent diff', () => {
  it('GIVEN a spec written the way the kernel prints it differently THEN canonicalisation makes them equal (no endless rewrite)', () => {
    const { spec, errors } = canonicalSpec({
      devices: [{ ...dev, mac: '02:00:00:00:00:01'.toUpperCase() }],
      routes: [{ cidr: '10.237.6.0/18', gw: '220.0.0.2', dev: 'vx-bridge' }],
      fdbs: [{ ip: '2001:db8:0:0::1', mac: '02:00:00:00:00:02', dev: 'vx-bridge' }],
    });
    expect(errors).toEqual([]);
    expect(spec.routes[0]?.cidr).toBe('10.237.0.0/18');
    expect(spec.fdbs[0]?.ip).toBe('2001:db8::1');
    const plan = diff(
      spec,
      host({
        routes: [{ cidr: '10.237.0.0/18', gw: '220.0.0.2', dev: 'vx-bridge' }],
        fdbs: [{ ip: '2001:db8::1', mac: '02:00:00:00:00:02', dev: 'vx-bridge' }],
      }),
    );
    expect(emptyPlan(plan)).toBe(true);
  });

  it('GIVEN an unparsable CIDR or an entry on an unknown device THEN the whole spec is refused with field errors', () => {
    const { errors } = canonicalSpec({
      devices: [dev],
      routes: [{ cidr: '10.0.0.300/24', gw: '220.0.0.2', dev: 'vx-bridge' }],
      arps: [{ ip: '220.0.0.9', mac: 'zz', dev: 'vx-nope' }],
    });
    expect(errors).toEqual([
      'spec.routes[0].cidr: Invalid value: "10.0.0.300/24": must be a CIDR such as 10.0.0.0/16 or fd00::/64',
      'spec.arps[0].mac: Invalid value: "zz": must be a MAC address',
      'spec.arps[0].dev: Invalid value: "vx-nope": must name a device of spec.devices',
    ]);
  });

  it('GIVEN a device whose MAC changed THEN it is deleted and created, and entries on it are re-added without deletes', () => {
    const want = canonicalSpec({
      devices: [{ ...dev, mac: '02:00:00:00:00:09' }],
      routes: [{ cidr: '10.0.0.0/24', gw: '220.0.0.2', dev: 'vx-bridge' }],
    }).spec;
    const plan = diff(want, host({ routes: [{ cidr: '10.0.0.0/24', gw: '220.0.0.2', dev: 'vx-bridge' }] }));
    expect(plan.delDevices.map((d) => d.mac)).toEqual(['02:00:00:00:00:01']);
    expect(plan.addDevices.map((d) => d.mac)).toEqual(['02:00:00:00:00:09']);
    expect(plan.delRoutes).toEqual([]);
    expect(plan.addRoutes).toEqual([{ cidr: '10.0.0.0/24', gw: '220.0.0.2', dev: 'vx-bridge' }]);
  });

  it('GIVEN missing CLUSTERLINK chains THEN the family is rewritten; GIVEN no rules wanted and no chains THEN nothing is done', () => {
    const rule = { table: 'nat', chain: 'POSTROUTING', rule: '-s 210.0.0.0/8 -o vx-bridge -j MASQUERADE' };
    const want = canonicalSpec({ devices: [dev], iptables: [rule] }).spec;
    expect(diff(want, host({ iptables: { 4: undefined, 6: undefined } })).iptables).toEqual({ 4: [rule] });
    const none = canonicalSpec({ devices: [dev] }).spec;
    expect(diff(none, host({ iptables: { 4: undefined, 6: undefined } })).iptables).toEqual({});
  });

  it('GIVEN no devices wanted THEN the table-200 rule of that family is removed, and added when devices come back', () => {
    expect(diff(canonicalSpec({}).spec, host()).delRules).toEqual([4]);
    expect(
      diff(canonicalSpec({ devices: [dev] }).spec, host({ rules: { 4: false, 6: false } })).addRules,
    ).toEqual([4]);
  });
});
