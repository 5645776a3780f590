import { describe, expect, it } from 'vitest';
import type { Device } from '../../../src/api/kinds.js';
import { diff, canonicalSpec } from '../../../src/clusterlink/agent/diff.js';
import { parseForwardSave, restoreInput } from '../../../src/clusterlink/agent/iptables.js';
import { forwardRules, parseDeviceList, sysctlsFor } from '../../../src/clusterlink/agent/node-settings.js';

const vx = (name: string, bindDev = 'eth0'): Device => ({
  type: 'vxlan',
  name,
  addr: name.endsWith('-6') ? '9470::11/16' : '220.168.1.11/8',
  mac: '02:00:00:00:01:11',
  bindDev,
  id: 54,
  port: 4876,
});

describe('what a linked node needs besides its NodeConfig', () => {
  it('GIVEN a gateway with vx-local, vx-bridge and vx-bridge-6 THEN FORWARD accepts in and out of each tunnel, per family, never of the NIC', () => {
    const rules = forwardRules({ devices: [vx('vx-local'), vx('vx-bridge'), vx('vx-bridge-6')] });
    expect(rules[4].map((r) => `${r.table} ${r.chain} ${r.rule}`)).toEqual([
      'filter FORWARD -i vx-bridge -j ACCEPT',
      'filter FORWARD -o vx-bridge -j ACCEPT',
      'filter FORWARD -i vx-local -j ACCEPT',
      'filter FORWARD -o vx-local -j ACCEPT',
    ]);
    expect(rules[6].map((r) => r.rule)).toEqual(['-i vx-bridge-6 -j ACCEPT', '-o vx-bridge-6 -j ACCEPT']);
    expect(forwardRules({})).toEqual({ 4: [], 6: [] });
  });

  it.each<[string, Device[], string[], string[] | undefined, string[]]>([
    [
      'GIVEN a Calico node THEN loose rp_filter on the tunnel, its NIC, tunl0 and vxlan.calico',
      [vx('vx-bridge')],
      ['lo', 'eth0', 'tunl0', 'vxlan.calico', 'cali1234', 'vx-bridge'],
      undefined,
      [
        'net/ipv4/conf/eth0/rp_filter=2',
        'net/ipv4/conf/tunl0/rp_filter=2',
        'net/ipv4/conf/vx-bridge/rp_filter=2',
        'net/ipv4/conf/vxlan.calico/rp_filter=2',
      ],
    ],
    [
      'GIVEN a Flannel node THEN flannel.1 matches the flannel* prefix',
      [vx('vx-bridge')],
      ['eth0', 'flannel.1', 'cni0', 'vx-bridge'],
      undefined,
      [
        'net/ipv4/conf/eth0/rp_filter=2',
        'net/ipv4/conf/flannel.1/rp_filter=2',
        'net/ipv4/conf/vx-bridge/rp_filter=2',
      ],
    ],
    [
      'GIVEN operator-named devices THEN those instead of the defaults',
      [vx('vx-bridge')],
      ['eth0', 'tunl0', 'cilium_host', 'cilium_vxlan', 'vx-bridge'],
      ['cilium_*'],
      [
        'net/ipv4/conf/cilium_host/rp_filter=2',
        'net/ipv4/conf/cilium_vxlan/rp_filter=2',
        'net/ipv4/conf/eth0/rp_filter=2',
        'net/ipv4/conf/vx-bridge/rp_filter=2',
      ],
    ],
    [
      'GIVEN an IPv6 tunnel THEN IPv6 enabled on it (no rp_filter in IPv6)',
      [vx('vx-bridge-6')],
      ['eth0', 'vx-bridge-6'],
      undefined,
      ['net/ipv6/conf/vx-bridge-6/disable_ipv6=0'],
    ],
    [
      'GIVEN a device the kernel did not create THEN no sysctl for it (its directory does not exist)',
      [vx('vx-bridge')],
      ['eth0'],
      undefined,
      ['net/ipv4/conf/eth0/rp_filter=2'],
    ],
    [
      'GIVEN an unlinked node (no devices) THEN the CNI devices are left alone',
      [],
      ['eth0', 'tunl0'],
      undefined,
      [],
    ],
  ])('%s', (_name, devices, links, rpFilter, want) => {
    expect(sysctlsFor({ devices }, links, rpFilter).map((s) => `${s.path}=${s.value}`)).toEqual(want);
  });

  it('GIVEN --rp-filter-devices THEN names and prefixes, blanks dropped', () => {
    expect(parseDeviceList('tunl0, cilium_*,,')).toEqual(['tunl0', 'cilium_*']);
  });
});

describe('the CLUSTERLINK-FORWARD chain on the node', () => {
  const saved = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':CLUSTERLINK-FORWARD - [0:0]',
    '-A FORWARD -j KUBE-FORWARD',
    '-A FORWARD -j CLUSTERLINK-FORWARD',
    '-A CLUSTERLINK-FORWARD -i vx-bridge -j ACCEPT',
    '-A CLUSTERLINK-FORWARD -o vx-bridge -j ACCEPT',
    'COMMIT',
  ].join('\n');

  it('GIVEN iptables-save of the filter table THEN the chain reads back in the spec shape, and matches what is wanted', () => {
    const have = parseForwardSave(saved);
    expect(have).toEqual(forwardRules({ devices: [vx('vx-bridge')] })[4]);
    const want = canonicalSpec({ devices: [vx('vx-bridge')] }).spec;
    const plan = diff(want, {
      devices: want.devices,
      routes: [],
      fdbs: [],
      arps: [],
      iptables: { 4: [], 6: [] },
      forward: { 4: have, 6: undefined },
      rules: { 4: true, 6: false },
    });
    expect(plan.forward).toEqual({});
  });

  it('GIVEN the jump was removed (someone flushed FORWARD) THEN the chain counts as missing, and the restore puts the jump back first', () => {
    const noJump = saved.replace('-A FORWARD -j CLUSTERLINK-FORWARD\n', '');
    expect(parseForwardSave(noJump)).toBeUndefined();
    const input = restoreInput(
      { forward: forwardRules({ devices: [vx('vx-bridge')] })[4] },
      { filter: noJump },
    );
    expect(input.split('\n')).toEqual([
      '*filter',
      ':CLUSTERLINK-FORWARD - [0:0]',
      '-A CLUSTERLINK-FORWARD -i vx-bridge -j ACCEPT',
      '-A CLUSTERLINK-FORWARD -o vx-bridge -j ACCEPT',
      '-I FORWARD 1 -j CLUSTERLINK-FORWARD',
      'COMMIT',
      '',
    ]);
    // A jump that is there, even below another component's, is not added twice.
    expect(restoreInput({ forward: [] }, { filter: saved })).not.toContain('-I FORWARD');
  });
});
