import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, portInUse } from '../../src/cli/sandbox/processes.js';
import type { SandboxState } from '../../src/cli/sandbox/state.js';
import { eventually, kosmosctl, kubectl, newSandboxDir } from './harness.js';

const dir = newSandboxDir();
let state: SandboxState;
const kubeconfig = (cluster: string) => `${dir}/${cluster}/kubeconfig`;
const readStateFile = () => JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as SandboxState;

describe('kosmosctl sandbox', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.stderr).toContain('up: host (3 nodes), leaf-1 (3 nodes), leaf-2 (3 nodes)');
    expect(up.code).toBe(0);
    state = readStateFile();
  });

  afterAll(async () => {
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it.each(['host', 'leaf-1', 'leaf-2'])('GIVEN the default topology THEN %s has 3 Ready nodes', (cluster) => {
    const r = kubectl(kubeconfig(cluster), ['get', 'nodes', '--no-headers']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/\sReady\s/);
  });

  it('prints the admin kubeconfig path of a cluster', async () => {
    const r = await kosmosctl(dir, ['sandbox', 'kubeconfig', 'leaf-2']);
    expect(r.stdout.trim()).toBe(kubeconfig('leaf-2'));
    const bad = await kosmosctl(dir, ['sandbox', 'kubeconfig', 'leaf-9']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown cluster "leaf-9": the sandbox has host, leaf-1, leaf-2');
  });

  it('a pod in a leaf is scheduled, bound and reaches Running with an IP from its node CIDR', async () => {
    const k = kubeconfig('leaf-1');
    expect(kubectl(k, ['run', 'web', '--image=nginx', '--restart=Never']).code).toBe(0);
    const pod = await eventually(() => {
      const r = kubectl(k, ['get', 'pod', 'web', '-o', 'json']);
      const p = JSON.parse(r.stdout) as {
        spec: { nodeName?: string };
        status: { phase: string; podIP?: string };
      };
      if (p.status.phase !== 'Running') throw new Error(`phase ${p.status.phase}`);
      return p;
    });
    expect(pod.spec.nodeName).toMatch(/^leaf-1-node-\d$/);
    expect(pod.status.podIP).toMatch(/^10\.34\./); // leaf-1's pod CIDR is 10.34.0.0/15
    const logs = kubectl(k, ['logs', 'web']);
    expect(logs.stdout).toContain('kosmos sandbox: a container of cluster leaf-1');
  });

  it('kubectl explain shows the DistributionPolicy fields', () => {
    const r = kubectl(kubeconfig('host'), ['explain', 'dp.spec.policyTerms']);
    expect(r.code).toBe(0);
    for (const field of ['name', 'nodeType', 'advancedTerm', 'topologySpreadConstraints'])
      expect(r.stdout).toContain(field);
    expect(r.stdout).toContain('enum: host, leaf, mix, adv');
  });

  it('the apiserver refuses a DistributionPolicy with nodeType bogus, naming the field', () => {
    const r = kubectl(
      kubeconfig('host'),
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'kosmos.io/v1alpha1',
        kind: 'DistributionPolicy',
        metadata: { name: 'bad', namespace: 'default' },
        spec: {
          resourceSelectors: [{ name: 'x', policyName: 't' }],
          policyTerms: [{ name: 't', nodeType: 'bogus' }],
        },
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.policyTerms[0].nodeType: Unsupported value: "bogus"');
  });

  it('every CRD is installed in every cluster', () => {
    for (const cluster of ['host', 'leaf-1', 'leaf-2']) {
      const r = kubectl(kubeconfig(cluster), ['get', 'crd', '-o', 'name']);
      for (const plural of [
        'clusters',
        'clusternodes',
        'nodeconfigs',
        'distributionpolicies',
        'clusterdistributionpolicies',
        'podconvertpolicies',
        'clusterpodconvertpolicies',
        'workloadpolicies',
      ]) {
        expect(r.stdout).toContain(`${plural}.kosmos.io`);
      }
    }
  });

  it('status shows every component healthy', async () => {
    const r = await kosmosctl(dir, ['sandbox', 'status']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').slice(1);
    expect(rows.length).toBe(2 + 3 * 4 + 1); // redis, etcd, 4 per cluster, the supervisor
    for (const row of rows) expect(row).toMatch(/\syes$/);
  });

  it('up a second time changes nothing: same processes, same nodes', async () => {
    const nodesBefore = kubectl(kubeconfig('host'), [
      'get',
      'nodes',
      '-o',
      'jsonpath={.items[*].metadata.uid}',
    ]).stdout;
    const crdBefore = kubectl(kubeconfig('host'), [
      'get',
      'crd',
      'clusters.kosmos.io',
      '-o',
      'jsonpath={.metadata.resourceVersion}',
    ]).stdout;
    const again = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('starting');
    const after = readStateFile();
    expect(after.components.map((c) => [c.name, c.cluster, c.pid, c.port])).toEqual(
      state.components.map((c) => [c.name, c.cluster, c.pid, c.port]),
    );
    expect(
      kubectl(kubeconfig('host'), ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.uid}']).stdout,
    ).toBe(nodesBefore);
    expect(
      kubectl(kubeconfig('host'), [
        'get',
        'crd',
        'clusters.kosmos.io',
        '-o',
        'jsonpath={.metadata.resourceVersion}',
      ]).stdout,
    ).toBe(crdBefore);
  });

  it('a dead component whose port another process took makes up fail naming the port', async () => {
    // Without its supervisor (which would start Redis again at once), as after a reboot.
    const supervisor = state.components.find((c) => c.name === 'supervisor')!;
    process.kill(supervisor.pid, 'SIGKILL');
    await eventually(() => {
      if (isAlive(supervisor.pid)) throw new Error('supervisor still alive');
    }, 10_000);
    const redis = state.components.find((c) => c.name === 'redis')!;
    process.kill(redis.pid, 'SIGKILL');
    await eventually(() => {
      if (isAlive(redis.pid)) throw new Error('still alive');
    }, 10_000);
    const squatter = net.createServer().listen(redis.port, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      const r = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${redis.port} for redis is in use by another process`);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    // With the port free again, up brings Redis back on the same port.
    const again = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('starting redis');
    state = readStateFile();
    expect(state.components.find((c) => c.name === 'redis')!.port).toBe(redis.port);
  });

  it('refuses to start a second sandbox with another topology in the same folder', async () => {
    const file = join(dirname(dir), 'one-leaf.yaml');
    writeFileSync(file, 'clusters: [{name: host}, {name: leaf-1}]');
    const r = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--topology', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('a sandbox with another topology is up');
  });

  it('down stops every process and frees every port', async () => {
    const down = await kosmosctl(dir, ['sandbox', 'down']);
    expect(down.code).toBe(0);
    for (const c of state.components) {
      expect(isAlive(c.pid), `${c.name} ${c.cluster ?? ''} pid ${c.pid}`).toBe(false);
      expect(await portInUse(c.port), `${c.name} port ${c.port}`).toBe(false);
    }
    const status = await kosmosctl(dir, ['sandbox', 'status']);
    expect(status.code).toBe(1);
  });
});
