/**
 * What `npm start` gives a newcomer: the full sandbox (no --bare) with every Kosmos
 * component, the leaves joined, and a Deployment applied to the host running in the leaves.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOLBOX_IMAGE } from '../../src/cli/image/images.js';
import { eventually, kosmosctl, kubectl, kubectlPath, newSandboxDir } from './harness.js';

const dir = newSandboxDir();
let guideText = '';
const kc = (cluster: string) => `${dir}/${cluster}/kubeconfig`;

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}
const podsOf = (cluster: string, selector: string) =>
  (
    JSON.parse(
      kubectl(kc(cluster), ['get', 'pods', '-n', 'default', '-l', selector, '-o', 'json']).stdout,
    ) as { items: PodJson[] }
  ).items;

describe('the full sandbox (npm start)', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--with-guide']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain('Kosmos sandbox is up.');
    guideText = up.stdout;
  });

  afterAll(async () => {
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('every Kosmos component runs and is healthy', async () => {
    const r = await kosmosctl(dir, ['sandbox', 'status']);
    expect(r.code, r.stdout).toBe(0);
    for (const component of ['extender', 'webhooks', 'clustertree', 'mcs-controller', 'mcs-dns']) {
      expect(r.stdout).toMatch(new RegExp(`^${component}\\s+host\\s+-\\s+\\d+\\s+\\d+\\s+0\\s+yes$`, 'm'));
    }
  });

  it('the leaves are joined: one Ready virtual node per leaf cluster in the host', async () => {
    await eventually(() => {
      const r = kubectl(kc('host'), ['get', 'nodes', '-l', 'kosmos.io/node=true', '--no-headers']);
      expect(r.stdout).toMatch(/^kosmos-leaf-1\s+Ready\s/m);
      expect(r.stdout).toMatch(/^kosmos-leaf-2\s+Ready\s/m);
    }, 60_000);
  });

  it('a Deployment a policy sends to the leaves runs there and shows Running in the host', async () => {
    const apply = kubectl(
      kc('host'),
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'kosmos.io/v1alpha1',
            kind: 'ClusterDistributionPolicy',
            metadata: { name: 'web-to-leaves' },
            spec: {
              resourceSelectors: [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 'leaf' }],
              policyTerms: [{ name: 'leaf', nodeType: 'leaf' }],
            },
          },
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'web', namespace: 'default' },
            spec: {
              replicas: 6,
              selector: { matchLabels: { app: 'web' } },
              template: {
                metadata: { labels: { app: 'web' } },
                spec: {
                  containers: [
                    {
                      name: 'web',
                      image: TOOLBOX_IMAGE,
                      command: ['sh', '-c', 'echo "web in $(hostname)"; exec httpd -f -p 8080'],
                      resources: { requests: { cpu: '100m' } },
                    },
                  ],
                },
              },
            },
          },
        ],
      }),
    );
    expect(apply.code, apply.stderr).toBe(0);
    const hostPods = await eventually(() => {
      const pods = podsOf('host', 'app=web');
      const running = pods.filter((p) => p.status.phase === 'Running' && p.status.podIP);
      if (running.length !== 6) throw new Error(`${running.length}/6 Running`);
      return pods;
    }, 120_000);
    for (const p of hostPods) expect(p.spec.nodeName).toMatch(/^kosmos-leaf-[12]$/);
    const inLeaves = [...podsOf('leaf-1', 'app=web'), ...podsOf('leaf-2', 'app=web')];
    expect(inLeaves.map((p) => p.metadata.name).sort()).toEqual(hostPods.map((p) => p.metadata.name).sort());
    // The host shows the leaf's pod IP (from the leaf's pod CIDR).
    for (const p of hostPods) {
      const leaf = inLeaves.find((l) => l.metadata.name === p.metadata.name)!;
      expect(p.status.podIP).toBe(leaf.status.podIP);
    }
    // What the container printed in the leaf, read through the host's virtual node.
    await eventually(() => {
      const logs = kubectl(kc('host'), ['logs', hostPods[0]!.metadata.name]);
      expect(logs.stdout).toBe(`web in ${hostPods[0]!.metadata.name}\n`);
    }, 30_000);
  });

  it('kubectl exec on a pod of a virtual node runs in its container in the leaf, stdin and all', () => {
    const pod = podsOf('host', 'app=web')[0]!;
    const leaf = pod.spec.nodeName!.replace('kosmos-', '');
    const inLeaf = podsOf(leaf, 'app=web').find((p) => p.metadata.name === pod.metadata.name)!;
    const r = kubectl(kc('host'), ['exec', pod.metadata.name, '--', 'sh', '-c', 'ip -4 -o addr show eth0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`inet ${inLeaf.status.podIP}/`);
    const cat = kubectl(kc('host'), ['exec', '-i', pod.metadata.name, '--', 'cat'], 'through the host\n');
    expect(cat.stdout).toBe('through the host\n');
  });

  it("the guide's multi-cluster service lines work as printed: every cluster's DNS server answers with its own import IP", async () => {
    const block = guideText.slice(guideText.indexOf('Multi-cluster services'));
    const lines = block
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('kubectl ') || l.startsWith('dig '));
    const shell = (line: string) =>
      spawnSync('bash', ['-c', line], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${dirname(kubectlPath())}:${process.env['PATH'] ?? ''}` },
      });
    const kubectlLines = lines.filter((l) => l.startsWith('kubectl ') && !l.includes(' get '));
    expect(kubectlLines).toHaveLength(3);
    for (const line of kubectlLines) {
      const r = shell(line);
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
    }
    const digs = lines.filter((l) => l.startsWith('dig '));
    expect(digs.map((l) => /# (\S+)'s DNS server/.exec(l)?.[1])).toEqual(['host', 'leaf-1', 'leaf-2']);
    for (const line of digs) {
      const cluster = /# (\S+)'s DNS server/.exec(line)![1]!;
      const ip = await eventually(() => {
        const imp = kubectl(kc(cluster), [
          'get',
          'serviceimports.multicluster.x-k8s.io',
          'hello',
          '-o',
          'json',
        ]);
        const got =
          imp.code === 0 ? (JSON.parse(imp.stdout) as { spec: { ips?: string[] } }).spec.ips?.[0] : '';
        if (!got) throw new Error(`no import IP in ${cluster}`);
        return got;
      }, 60_000);
      await eventually(() => expect(shell(`${line.split('#')[0]} +short`).stdout.trim()).toBe(ip), 30_000);
    }
  });

  it('a second up changes nothing and keeps the leaves joined once', async () => {
    const again = await kosmosctl(dir, ['sandbox', 'up']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('starting');
    expect(again.stderr).not.toContain('joining');
  });
});
