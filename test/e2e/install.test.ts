/**
 * `kosmosctl install --dry-run` and the member manifests checked by real apiservers, and
 * `check` between simulated nodes (which have no datapath). The quick start itself, with every
 * component as its pod on real nodes, is quickstart.test.ts.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOk, kosmosctl, kubectl, newSandboxDir, type RunResult } from './harness.js';
import { items, kubeconfigOf } from './clustertree-helpers.js';
import { KubeClient } from '../../src/common/kube.js';
import { renderMember } from '../../src/cli/install/render.js';
import { applyObjects } from '../../src/cli/install/apply.js';

const dir = newSandboxDir('kosmos-install-');
const host = kubeconfigOf(dir, 'host');
const leaf1 = kubeconfigOf(dir, 'leaf-1');
const leaf2 = kubeconfigOf(dir, 'leaf-2');

/** kosmosctl as the quick start runs it: KUBECONFIG names the host cluster. */
const ctl = (args: string[]): Promise<RunResult> => kosmosctl(dir, args, undefined, { KUBECONFIG: host });

beforeAll(async () => {
  const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
  if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stderr}`);
});

afterAll(async () => {
  await kosmosctl(dir, ['sandbox', 'down']);
  rmSync(dirname(dir), { recursive: true, force: true });
});

describe('kosmosctl install manifests', () => {
  test('every host manifest passes a server-side dry run, and a fresh cluster is told which it could not check', async () => {
    const fresh = await ctl(['install', '--dry-run']);
    expectOk(fresh);
    expect(fresh.stdout).toMatch(/objects valid \(dry run, nothing changed\)/);
    expect(fresh.stderr).toMatch(/namespace kosmos-system does not exist yet/);
    expect(kubectl(host, ['get', 'namespace', 'kosmos-system']).code).not.toBe(0);

    expect(kubectl(host, ['create', 'namespace', 'kosmos-system']).code).toBe(0);
    const full = await ctl(['install', '--dry-run', '--redis-url', 'redis://redis.example:6379']);
    expectOk(full);
    expect(full.stderr).not.toMatch(/does not exist yet/);
    const all = await ctl(['install', '--dry-run']);
    expectOk(all);
    expect(all.stderr).not.toMatch(/does not exist yet/);
    expect(kubectl(host, ['delete', 'namespace', 'kosmos-system', '--wait=true']).code).toBe(0);
  });

  test('the member manifests pass a server-side dry run in a leaf', async () => {
    expect(kubectl(leaf1, ['create', 'namespace', 'kosmos-dryrun']).code).toBe(0);
    const client = KubeClient.fromFile(leaf1);
    try {
      const objects = renderMember({
        namespace: 'kosmos-dryrun',
        image: 'example/kosmos:test',
        clusterName: 'leaf-1',
        hostNamespace: 'kosmos-system',
        redisUrl: 'redis://redis.example:6379',
        link: true,
        mcs: true,
        managedBy: 'kosmosctl',
      });
      const report = await applyObjects(client, objects, { dryRun: true, progress: () => {} });
      expect(report.unchecked).toEqual([]);
      expect(report.applied.some((k) => k.startsWith('DaemonSet/'))).toBe(true);
    } finally {
      client.close();
    }
    expect(kubectl(leaf1, ['delete', 'namespace', 'kosmos-dryrun', '--wait=false']).code).toBe(0);
  });
});

describe('kosmosctl check', () => {
  test('probes every node pair of two clusters through exec, prints each verdict, exits 1 when any fails and removes its probes', async () => {
    // GIVEN two sandbox clusters, whose simulated nodes have no datapath between them
    // WHEN check runs node to node
    const r = await ctl([
      'check',
      '--src-kubeconfig',
      leaf1,
      '--dst-kubeconfig',
      leaf2,
      '--host-network',
      '--timeout',
      '60',
    ]);
    // THEN every one of the 3 x 3 pairs has a row naming both clusters, none passes, and the exit code says so
    expect(r.code).toBe(1);
    const rows = r.stdout.split('\n').filter((l) => /^\d+\s/.test(l));
    expect(rows).toHaveLength(9);
    for (const row of rows)
      expect(row).toMatch(/^\d+\s+leaf-1\s+leaf-1-node-\d\s+leaf-2\s+leaf-2-node-\d\s+\S+\s+(FAIL|ERROR)/);
    expect(r.stdout).toContain('0/9 passed');
    // AND no probe is left behind
    for (const kc of [leaf1, leaf2]) {
      expect(items(kc, ['daemonsets', '-A', '-l', 'app.kubernetes.io/name=kosmos-floater'])).toEqual([]);
      expect(kubectl(kc, ['get', 'namespace', 'kosmos-system']).code).not.toBe(0);
    }
  }, 180_000);
});
