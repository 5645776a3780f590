import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/clusterlink/exec.js';
import { startNode, stopNode } from '../../../src/clusterlink/lab/lab.js';
import { type RunningLab, startLab, suffix, summary } from './lab-helpers.js';

/**
 * Day-2 behaviour on one lab: a gateway cluster `a` (2 nodes) and a p2p cluster `b` (2 nodes).
 * The tests run in order on the same lab; the failover test goes last because it kills a node.
 */
let lab: RunningLab;
const s = suffix();
const A = `a${s}`;
const B = `b${s}`;

beforeAll(async () => {
  lab = await startLab(
    `
clusters:
  - name: ${A}
    networkType: gateway
    podCIDRs: [10.233.64.0/18]
    serviceCIDRs: [10.233.0.0/18]
    nodes:
      - {name: n1, podCIDRs: [10.233.64.0/24]}
      - {name: n2, podCIDRs: [10.233.65.0/24]}
  - name: ${B}
    networkType: p2p
    podCIDRs: [10.234.64.0/18]
    serviceCIDRs: [10.234.0.0/18]
    nodes:
      - {name: n1, podCIDRs: [10.234.64.0/24]}
      - {name: n2, podCIDRs: [10.234.65.0/24]}
`,
    // Long manager resync so a hand-written NodeConfig stays until the test looks at it;
    // agents resync every 10 s (drift repair).
    { managerResyncMs: 600_000, nodeResyncMs: 10_000 },
  );
});
afterAll(async () => {
  await lab?.down();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const table200 = (ns: string) => run('ip', ['-n', ns, 'route', 'show', 'table', '200']);

async function until<T>(timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(250);
  }
  return undefined;
}

/** Background ping from a pod; resolves with ping's summary line. */
function ping(fromPod: string, ip: string, count: number, intervalS: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('ip', [
      'netns',
      'exec',
      fromPod,
      'ping',
      '-q',
      '-c',
      String(count),
      '-i',
      String(intervalS),
      ip,
    ]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => resolve(out));
  });
}

describe('ClusterLink agent and elector operations on real network namespaces', () => {
  it('GIVEN a running lab WHEN an agent restarts with an unchanged NodeConfig THEN it writes nothing to the kernel and a running ping loses no packet', async () => {
    const ns = `${B}-n1`;
    const before = (await lab.store().getNodeConfig(ns))?.status;
    expect(before?.lastChangeTime).toBeDefined();
    const monitor = spawn('ip', ['-n', ns, 'monitor', 'link', 'address', 'route', 'neigh']);
    let events = '';
    monitor.stdout.on('data', (d: Buffer) => (events += d.toString()));
    const pinging = ping(`${B}-n1-pod`, '10.233.65.1', 120, 0.05);
    await sleep(1500);
    await stopNode(lab.dir, lab.state, ns);
    await startNode(lab.dir, lab.state, ns);
    // Wait for the new process to sync (its status lastSyncTime moves past the restart).
    const restartedAt = new Date().toISOString();
    const after = await until(20_000, async () => {
      const st = (await lab.store().getNodeConfig(ns))?.status;
      return st?.lastSyncTime && st.lastSyncTime > restartedAt ? st : undefined;
    });
    const summaryLine = await pinging;
    monitor.kill();
    expect(after?.lastChangeTime).toBe(before?.lastChangeTime);
    expect(events.split('\n').filter((l) => /vx-(bridge|local)/.test(l))).toEqual([]);
    expect(summaryLine).toMatch(/120 packets transmitted, 120 received, 0% packet loss/);
  });

  it('GIVEN a route and an FDB entry deleted by hand THEN the agent puts them back within 30 s', async () => {
    const ns = `${A}-n2`;
    const original = await table200(ns);
    const first = original.split('\n')[0] ?? '';
    const cidr = first.split(' ')[0] ?? '';
    expect(cidr).toMatch(/\//);
    await run('ip', ['-n', ns, 'route', 'del', cidr, 'table', '200']);
    const fdb = (await run('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'vx-local']))
      .split('\n')
      .find((l) => l.includes('dst') && !l.startsWith('00:00'));
    expect(fdb).toBeDefined();
    const [mac, , dst] = (fdb ?? '').split(' ');
    await run('bridge', ['-n', ns, 'fdb', 'del', mac ?? '', 'dev', 'vx-local', 'dst', dst ?? '', 'self']);
    expect(await table200(ns)).not.toContain(first);
    const t0 = Date.now();
    const repaired = await until(30_000, async () => ((await table200(ns)) === original ? true : undefined));
    expect(repaired, `table 200 of ${ns} not repaired in 30 s`).toBe(true);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(await run('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'vx-local'])).toContain(`${mac} dst ${dst}`);
  });

  it('GIVEN a NAT rule of the gateway deleted by hand THEN the agent puts it back within 30 s', async () => {
    const gw = (await lab.store().listClusterNodes()).find(
      (n) => n.spec.clusterName === A && n.spec.roles?.includes('gateway'),
    );
    const ns = gw?.metadata.name ?? '';
    const nat = () =>
      run('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S', 'CLUSTERLINK-POSTROUTING']);
    const before = await nat();
    expect(before).toContain('-A CLUSTERLINK-POSTROUTING -s 210.0.0.0/8 -o vx-bridge -j MASQUERADE');
    await run('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-t',
      'nat',
      '-D',
      'CLUSTERLINK-POSTROUTING',
      '-s',
      '210.0.0.0/8',
      '-o',
      'vx-bridge',
      '-j',
      'MASQUERADE',
    ]);
    expect(await nat()).not.toContain('-s 210.0.0.0/8 -o vx-bridge');
    const repaired = await until(30_000, async () =>
      (await nat()).includes('-s 210.0.0.0/8 -o vx-bridge -j MASQUERADE') ? true : undefined,
    );
    expect(repaired, `NAT rule on ${ns} not repaired within 30 s`).toBe(true);
  });

  it('GIVEN a NodeConfig with an unparsable CIDR THEN the node keeps its previous state and status.error names the field', async () => {
    const ns = `${B}-n2`;
    const store = lab.store();
    const good = await store.getNodeConfig(ns);
    const routesBefore = await table200(ns);
    const routes = [...(good?.spec.routes ?? [])];
    routes[0] = { ...routes[0]!, cidr: '10.233.300.0/24' };
    const generation = await store.putNodeConfigSpec(ns, { ...good?.spec, routes });
    expect(generation).toBeGreaterThan(good?.metadata.generation ?? 0);
    const status = await until(15_000, async () => {
      const st = (await store.getNodeConfig(ns))?.status;
      return st?.error ? st : undefined;
    });
    expect(status?.error).toContain('spec.routes[0].cidr: Invalid value: "10.233.300.0/24"');
    expect(status?.appliedGeneration).toBe(good?.metadata.generation);
    expect(await table200(ns)).toBe(routesBefore);
    const r = summary((await lab.check()).filter((x) => x.src === `${ns}-pod`));
    expect(r.failed, r.text).toEqual([]);
    // Putting the good spec back clears the error.
    await store.putNodeConfigSpec(ns, good?.spec ?? {});
    const cleared = await until(15_000, async () => {
      const st = (await store.getNodeConfig(ns))?.status;
      return st && !st.error ? st : undefined;
    });
    expect(cleared?.appliedGeneration).toBeGreaterThan(good?.metadata.generation ?? 0);
  });

  it('GIVEN the gateway node of a gateway cluster dies THEN another node takes the role and traffic to it is restored within 30 s', async () => {
    const store = lab.store();
    const gw = (await store.listClusterNodes()).find(
      (n) => n.spec.clusterName === A && n.spec.roles?.includes('gateway'),
    );
    expect(gw).toBeDefined();
    const dead = gw?.metadata.name ?? '';
    const survivor = dead === `${A}-n1` ? `${A}-n2` : `${A}-n1`;
    const survivorPod = survivor.endsWith('n1') ? '10.233.64.1' : '10.233.65.1';
    const probe = async () => {
      await run('ip', ['netns', 'exec', `${B}-n1-pod`, 'ping', '-c', '1', '-W', '1', survivorPod]);
      return true;
    };
    expect(await probe()).toBe(true);
    const t0 = Date.now();
    await stopNode(lab.dir, lab.state, dead, { cut: true, signal: 'SIGKILL' });
    const restored = await until(30_000, probe);
    const elapsed = Date.now() - t0;
    expect(restored, `traffic to ${survivor} not restored within 30 s`).toBe(true);
    expect(elapsed).toBeLessThan(30_000);
    const roles = (await store.listClusterNodes()).filter(
      (n) => n.spec.clusterName === A && n.spec.roles?.includes('gateway'),
    );
    expect(roles.map((n) => n.metadata.name)).toEqual([survivor]);
  });
});
