/**
 * The agent with exactly what deploy/member/10-clusterlink.yaml gives its container, on a real
 * kernel: the node's network namespace (hostNetwork), capabilities NET_ADMIN and NET_RAW only,
 * /proc/sys read-only as in every unprivileged container, and the node's /proc/sys/net mounted
 * writable at /host/proc/sys/net (a hostPath). Root only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeConfigSpec } from '../../../src/api/kinds.js';
import { run } from '../../../src/clusterlink/exec.js';

const hook = fileURLToPath(new URL('../../../src/clusterlink/lab/dev/ts-hook.mjs', import.meta.url));
const probe = fileURLToPath(new URL('./fixtures/pod-agent-probe.ts', import.meta.url));
let ns: string;
let dir: string;

const spec: NodeConfigSpec = {
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
  ],
  routes: [{ cidr: '10.234.0.0/18', gw: '220.168.2.21', dev: 'vx-bridge' }],
  iptables: [{ table: 'nat', chain: 'POSTROUTING', rule: '-s 220.0.0.0/8 -j MASQUERADE' }],
};

interface ProbeResult {
  changes: number;
  sysctlChanges: number;
  errors: string[];
  remaining: number;
  caps: string;
}

const inNs = (cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args]);
/** sysctl(8) key of a device's rp_filter: a dot in a device name is written as a slash. */
const rpFilter = (dev: string) => `net.ipv4.conf.${dev.replace(/\./g, '/')}.rp_filter`;
const sysctl = async (key: string) => (await inNs('sysctl', '-n', key)).trim();

/** One sync in a "container": private mounts, read-only /proc/sys, the hostPath mount, two capabilities. */
async function podSync(o: { mountProcSysNet: boolean }): Promise<ProbeResult> {
  const file = join(dir, 'spec.json');
  await writeFile(file, JSON.stringify(spec));
  const hostSys = join(dir, 'host', 'proc', 'sys');
  const setup = [
    'set -e',
    ...(o.mountProcSysNet ? [`mkdir -p ${hostSys}/net`, `mount --bind /proc/sys/net ${hostSys}/net`] : []),
    'mount --bind /proc/sys /proc/sys',
    'mount -o remount,bind,ro /proc/sys',
    `exec setpriv --bounding-set -all,+net_admin,+net_raw --inh-caps -all --no-new-privs "$@"`,
  ].join('\n');
  const out = await run('ip', [
    'netns',
    'exec',
    ns,
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    setup,
    'sh',
    process.execPath,
    '--import',
    hook,
    probe,
    file,
    o.mountProcSysNet ? hostSys : '/proc/sys',
  ]);
  return JSON.parse(out) as ProbeResult;
}

beforeEach(async () => {
  ns = `klpod${randomBytes(3).toString('hex')}`;
  dir = await mkdtemp(join(tmpdir(), 'kosmos-pod-'));
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  for (const l of ['eth0', 'eth1']) await run('ip', ['-n', ns, 'link', 'set', l, 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', '192.168.1.11/24', 'dev', 'eth0']);
  // Stand-ins for the CNI's devices (the agent only sets their sysctls) and one that is none of
  // its business; veth pairs, as this kernel may have no dummy driver.
  for (const [l, peer] of [
    ['vxlan.calico', 'p-calico'],
    ['flannel.1', 'p-flannel'],
    ['other0', 'p-other'],
  ] as const)
    await run('ip', ['-n', ns, 'link', 'add', l, 'type', 'veth', 'peer', 'name', peer]);
  // Strict reverse-path filtering everywhere, and a node that drops forwarded traffic by default.
  for (const l of ['all', 'default', 'eth0', 'vxlan.calico', 'flannel.1', 'other0'])
    await inNs('sysctl', '-qw', `${rpFilter(l)}=1`);
  await inNs('iptables', '-P', 'FORWARD', 'DROP');
});
afterEach(async () => {
  // The namespace takes its devices, routes, rules, sysctls and iptables with it.
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('the agent as its DaemonSet runs it (NET_ADMIN + NET_RAW, read-only /proc/sys, /proc/sys/net hostPath)', () => {
  it('GIVEN the container shape THEN the NodeConfig is applied, FORWARD accepts the tunnel and rp_filter is loose on the tunnel, its NIC and the CNI devices', async () => {
    const r = await podSync({ mountProcSysNet: true });
    // Exactly CAP_NET_RAW (13) and CAP_NET_ADMIN (12).
    expect(r.caps).toBe('0000000000003000');
    expect(r.errors).toEqual([]);
    expect(r.remaining).toBe(0);
    expect(await inNs('iptables', '-S', 'FORWARD')).toMatch(
      /^-P FORWARD DROP\n-A FORWARD -j CLUSTERLINK-FORWARD$/m,
    );
    expect(await inNs('iptables', '-S', 'CLUSTERLINK-FORWARD')).toContain(
      '-A CLUSTERLINK-FORWARD -i vx-bridge -j ACCEPT\n-A CLUSTERLINK-FORWARD -o vx-bridge -j ACCEPT',
    );
    for (const l of ['vx-bridge', 'eth0', 'vxlan.calico', 'flannel.1'])
      expect(await sysctl(rpFilter(l)), l).toBe('2');
    expect(await sysctl(rpFilter('other0'))).toBe('1');
    expect(await run('ip', ['-n', ns, 'route', 'show', 'table', '200'])).toContain(
      '10.234.0.0/18 via 220.168.2.21 dev vx-bridge',
    );
  });

  it('GIVEN someone resets rp_filter and removes the FORWARD jump THEN the next sync puts both back, and one more changes nothing', async () => {
    await podSync({ mountProcSysNet: true });
    await inNs('sysctl', '-qw', `${rpFilter('vx-bridge')}=1`, `${rpFilter('vxlan.calico')}=0`);
    await inNs('iptables', '-D', 'FORWARD', '-j', 'CLUSTERLINK-FORWARD');
    const repaired = await podSync({ mountProcSysNet: true });
    expect(repaired.errors).toEqual([]);
    expect(repaired.sysctlChanges).toBe(2);
    expect(repaired.changes).toBe(1); // the FORWARD chain of IPv4, rewritten with its jump
    expect(await sysctl(rpFilter('vx-bridge'))).toBe('2');
    expect(await sysctl(rpFilter('vxlan.calico'))).toBe('2');
    expect(await inNs('iptables', '-S', 'FORWARD')).toContain('-A FORWARD -j CLUSTERLINK-FORWARD');
    const quiet = await podSync({ mountProcSysNet: true });
    expect([quiet.changes, quiet.sysctlChanges, quiet.errors]).toEqual([0, 0, []]);
  });

  it("GIVEN no /proc/sys/net mount THEN the container's read-only /proc/sys refuses the sysctls, and the error says what to mount", async () => {
    const r = await podSync({ mountProcSysNet: false });
    expect(r.errors.length).toBeGreaterThan(0);
    for (const e of r.errors)
      expect(e).toMatch(/EROFS.*mount the host's \/proc\/sys\/net writable and pass --sysctl-root/);
    expect(await sysctl(rpFilter('vxlan.calico'))).toBe('1');
    // Everything else is netlink and iptables, which the two capabilities cover.
    expect(await run('ip', ['-n', ns, 'route', 'show', 'table', '200'])).toContain('10.234.0.0/18');
  });
});
