import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeConfigSpec } from '../../../src/api/kinds.js';
import { run } from '../../../src/clusterlink/exec.js';

const hook = fileURLToPath(new URL('../../../src/clusterlink/lab/dev/ts-hook.mjs', import.meta.url));
const probe = fileURLToPath(new URL('./fixtures/host-probe.ts', import.meta.url));
const nicProbe = fileURLToPath(new URL('./fixtures/nic-probe.ts', import.meta.url));
let ns: string;
let dir: string;

beforeEach(async () => {
  ns = `klhost${randomBytes(3).toString('hex')}`;
  dir = await mkdtemp(join(tmpdir(), 'kosmos-host-'));
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  for (const l of ['eth0', 'eth1']) await run('ip', ['-n', ns, 'link', 'set', l, 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', '192.168.1.11/24', 'dev', 'eth0']);
  await run('ip', ['-n', ns, '-6', 'addr', 'add', 'fd99::11/64', 'dev', 'eth0', 'nodad']);
});
afterEach(async () => {
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

interface StepResult {
  changes: number;
  errors: string[];
  remaining: number;
}

async function steps(list: unknown[]): Promise<StepResult[]> {
  const file = join(dir, 'steps.json');
  await writeFile(file, JSON.stringify(list));
  return JSON.parse(
    await run('ip', ['netns', 'exec', ns, process.execPath, '--import', hook, probe, file]),
  ) as StepResult[];
}

const dual: NodeConfigSpec = {
  devices: [
    {
      type: 'vxlan',
      name: 'vx-bridge',
      addr: '220.168.1.11/8',
      mac: '02:00:00:00:01:11',
      bindDev: 'eth0',
      id: 54,
      port: 4876,
    },
    {
      type: 'vxlan',
      name: 'vx-bridge-6',
      addr: '9470::11/16',
      mac: '02:00:00:00:06:11',
      bindDev: 'eth0',
      id: 64,
      port: 4866,
    },
  ],
  routes: [
    { cidr: '10.234.0.0/18', gw: '220.168.2.21', dev: 'vx-bridge' },
    { cidr: 'fd00:b::/64', gw: '9470::21', dev: 'vx-bridge-6' },
  ],
  fdbs: [
    { ip: '192.168.1.12', mac: '00:00:00:00:00:00', dev: 'vx-bridge' },
    { ip: '192.168.1.12', mac: '02:00:00:00:01:12', dev: 'vx-bridge' },
    { ip: 'fd99::12', mac: '02:00:00:00:06:12', dev: 'vx-bridge-6' },
  ],
  arps: [
    { ip: '220.168.1.12', mac: '02:00:00:00:01:12', dev: 'vx-bridge' },
    { ip: '9470::12', mac: '02:00:00:00:06:12', dev: 'vx-bridge-6' },
  ],
  iptables: [
    {
      table: 'nat',
      chain: 'POSTROUTING',
      rule: '-s 10.233.64.0/18 -o vx-bridge -j NETMAP --to 10.100.64.0/18',
    },
    {
      table: 'nat',
      chain: 'PREROUTING',
      rule: '-d 10.100.64.0/18 -i vx-bridge -j NETMAP --to 10.233.64.0/18',
    },
    { table: 'nat', chain: 'POSTROUTING', rule: '-s 9480::/16 -o vx-bridge-6 -j MASQUERADE' },
  ],
};

describe('agent kernel adapter (rtnetlink + iptables-restore) in a real network namespace', () => {
  it('GIVEN a dual-stack spec WHEN applied THEN reading the node back gives no difference, and applying again changes nothing', async () => {
    const [first, second] = await steps([{ spec: dual }, { spec: dual }]);
    expect(first?.errors).toEqual([]);
    expect(first?.changes).toBeGreaterThan(0);
    expect(first?.remaining).toBe(0);
    expect(second).toEqual({ changes: 0, errors: [], remaining: 0 });
    const link = await run('ip', ['-n', ns, '-d', 'link', 'show', 'vx-bridge-6']);
    // IPv6 underlay: 70 bytes of VXLAN overhead (the reference used 50).
    expect(link).toMatch(/mtu 1430 /);
    expect(link).toMatch(/vxlan id 64 local fd99::11 dev eth0 .*dstport 4866 nolearning/);
    expect(await run('ip', ['-n', ns, '-d', 'link', 'show', 'vx-bridge'])).toMatch(/mtu 1450 /);
    expect(await run('ip', ['-n', ns, 'rule'])).toMatch(/^200:\s+from all lookup 200/m);
    expect(
      await run('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S', 'CLUSTERLINK-PREROUTING']),
    ).toContain('-A CLUSTERLINK-PREROUTING -d 10.100.64.0/18 -i vx-bridge -j NETMAP --to 10.233.64.0/18');
  });

  it('GIVEN a device whose MAC changes THEN it is recreated and its routes and neighbours come back in the same pass', async () => {
    const changed = {
      ...dual,
      devices: dual.devices?.map((d) => (d.name === 'vx-bridge' ? { ...d, mac: '02:00:00:00:01:99' } : d)),
    };
    const [, after] = await steps([{ spec: dual }, { spec: changed }]);
    expect(after?.errors).toEqual([]);
    expect(after?.remaining).toBe(0);
    expect(await run('ip', ['-n', ns, 'route', 'show', 'table', '200'])).toContain(
      '10.234.0.0/18 via 220.168.2.21 dev vx-bridge',
    );
  });

  it('GIVEN a spec without entries THEN managed devices, routes, rules and NAT rules are removed', async () => {
    const [, down] = await steps([{ spec: dual }, { spec: {} }]);
    expect(down?.errors).toEqual([]);
    expect(down?.remaining).toBe(0);
    expect(await run('ip', ['-n', ns, 'link', 'show'])).not.toMatch(/vx-bridge/);
    expect(await run('ip', ['-n', ns, 'rule'])).not.toMatch(/lookup 200/);
    expect(
      await run('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S', 'CLUSTERLINK-POSTROUTING']),
    ).toBe('-N CLUSTERLINK-POSTROUTING\n');
  });

  it('GIVEN bulk writes where one entry fails THEN the error names that entry and the others are applied', async () => {
    const [, result] = await steps([
      { spec: dual },
      {
        plan: {
          delFdbs: [{ ip: '192.168.1.77', mac: '02:00:00:00:07:77', dev: 'vx-bridge' }],
          addRoutes: [{ cidr: '10.99.0.0/24', gw: '220.168.2.21', dev: 'vx-bridge' }],
        },
      },
    ]);
    expect(result?.errors).toEqual(['delete fdb 192.168.1.77 02:00:00:00:07:77 dev vx-bridge: ENOENT']);
    expect(await run('ip', ['-n', ns, 'route', 'show', 'table', '200'])).toContain(
      '10.99.0.0/24 via 220.168.2.21 dev vx-bridge',
    );
  });

  it('GIVEN defaultNICName "*" THEN the NIC is the one holding the node address, else the default route one, never a vxlan device', async () => {
    const detect = async (ips: string) =>
      JSON.parse(
        await run('ip', ['netns', 'exec', ns, process.execPath, '--import', hook, nicProbe, ips]),
      ) as Record<string, string | null>;
    // a second NIC with the default route, so the two answers differ
    await run('ip', ['-n', ns, 'link', 'add', 'ens5', 'type', 'veth', 'peer', 'name', 'ens6']);
    for (const l of ['ens5', 'ens6']) await run('ip', ['-n', ns, 'link', 'set', l, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', '198.51.100.5/24', 'dev', 'ens5']);
    await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', '198.51.100.1', 'dev', 'ens5']);
    expect(await detect('192.168.1.11')).toEqual({ 4: 'eth0', 6: null });
    expect(await detect('192.168.1.11,fd99::11')).toEqual({ 4: 'eth0', 6: 'eth0' });
    expect(await detect('')).toEqual({ 4: 'ens5', 6: null });
    expect(await detect('203.0.113.9')).toEqual({ 4: 'ens5', 6: null });
    // once the agent's own tunnel exists, it is never taken for the node NIC
    await steps([{ spec: { devices: [dual.devices![0]!] } }]);
    await run('ip', ['-n', ns, 'route', 'del', 'default']);
    await run('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'vx-bridge']);
    expect(await detect('')).toEqual({ 4: null, 6: null });
  });
});
