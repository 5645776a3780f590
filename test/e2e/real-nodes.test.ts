/**
 * The sandbox's real nodes: kubelet + containerd + runc + CNI in a network namespace per node,
 * real containers from the images the project builds, cluster DNS, kube-proxy, a supervisor
 * that restarts what dies, and a `down` that puts the machine back as it was.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listImages } from '../../src/cli/image/build.js';
import { KOSMOS_IMAGE } from '../../src/cli/image/images.js';
import { TOOLBOX_IMAGE } from '../../src/cli/sandbox/sandbox-images.js';
import { sandboxId } from '../../src/cli/sandbox/real-node.js';
import { KUBELET_GLOBAL_SYSCTLS, readSysctls } from '../../src/cli/sandbox/system.js';
import { eventually, kosmosctl, kubectl, newSandboxDir } from './harness.js';

const dir = newSandboxDir('kosmos-e2e-real-');
const kc = (cluster: string) => join(dir, cluster, 'kubeconfig');
const sid = sandboxId(dir);

/** What the machine looked like before `up`: `down` must give exactly this back. */
const before = {
  sysctls: readSysctls(KUBELET_GLOBAL_SYSCTLS),
  iptables: iptablesShape(),
  netns: netnsNames(),
  links: linkNames(),
};

function iptablesShape(): string {
  // Chains and rules of the root namespace, without packet counters.
  const r = spawnSync('iptables-save', [], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');
}
function netnsNames(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').sort() : [];
}
function linkNames(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter(Boolean)
    .sort();
}

function processesMentioning(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) out.push(`${pid}: ${cmd}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { imageID?: string; ready?: boolean; restartCount?: number }[];
  };
}

function toolboxPod(name: string, node: string, command: string) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'main', image: TOOLBOX_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', command] },
      ],
    },
  });
}

async function runningPod(cluster: string, name: string): Promise<PodJson> {
  return await eventually(() => {
    const r = kubectl(kc(cluster), ['get', 'pod', name, '-o', 'json']);
    const pod = JSON.parse(r.stdout) as PodJson;
    if (pod.status.phase !== 'Running' || !pod.status.containerStatuses?.[0]?.ready)
      throw new Error(`${cluster}/${name}: ${pod.status.phase}`);
    return pod;
  }, 120_000);
}

const exec = (cluster: string, pod: string, script: string) =>
  kubectl(kc(cluster), ['exec', pod, '--', 'sh', '-c', script]);

describe('sandbox real nodes', () => {
  beforeAll(async () => {
    const topology = join(dirname(dir), 'topology.yaml');
    writeFileSync(
      topology,
      [
        'clusters:',
        '  - name: host',
        '    nodes: [{count: 1, runtime: containerd}]',
        '  - name: leaf-1',
        '    nodes: [{count: 2, runtime: containerd}]',
        '  - name: leaf-2',
        '    nodes: [{count: 1, runtime: containerd}]',
        '',
      ].join('\n'),
    );
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--topology', topology]);
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    if (existsSync(dir)) await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('GIVEN up has returned THEN every real node is Ready with containerd 2 and the pod CIDR its CNI uses', () => {
    const r = kubectl(kc('leaf-1'), ['get', 'nodes', '-o', 'json']);
    const nodes = (
      JSON.parse(r.stdout) as {
        items: {
          metadata: { name: string };
          spec: { podCIDR?: string };
          status: {
            nodeInfo: { containerRuntimeVersion: string };
            conditions: { type: string; status: string }[];
          };
        }[];
      }
    ).items;
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['leaf-1-node-0', 'leaf-1-node-1']);
    for (const n of nodes) {
      expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(n.spec.podCIDR).toMatch(/^10\.35\.25[45]\.0\/24$/);
    }
  });

  it('GIVEN a pod on a real node THEN its container really runs: logs show what it printed and exec runs inside it', async () => {
    const apply = kubectl(
      kc('leaf-1'),
      ['apply', '-f', '-'],
      toolboxPod(
        'talker',
        'leaf-1-node-0',
        'echo "started as $(hostname)" > /tmp/mark; cat /tmp/mark; exec sleep 3600',
      ),
    );
    expect(apply.code, apply.stderr).toBe(0);
    const pod = await runningPod('leaf-1', 'talker');
    expect(pod.status.podIP).toMatch(/^10\.35\.255\./);
    await eventually(() =>
      expect(kubectl(kc('leaf-1'), ['logs', 'talker']).stdout).toBe('started as talker\n'),
    );
    const r = exec('leaf-1', 'talker', 'cat /tmp/mark; ip -4 -o addr show eth0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('started as talker');
    expect(r.stdout).toContain(`inet ${pod.status.podIP}/24`);
  });

  it('GIVEN pods on two nodes of one cluster THEN they reach each other; a pod of another cluster does not (only ClusterLink may link clusters)', async () => {
    for (const [cluster, name, node] of [
      ['leaf-1', 'server', 'leaf-1-node-1'],
      ['leaf-1', 'client', 'leaf-1-node-0'],
      ['leaf-2', 'outsider', 'leaf-2-node-0'],
    ] as const) {
      const cmd = name === 'server' ? 'exec nc -ll -p 8080 -e echo pong' : 'exec sleep 3600';
      expect(kubectl(kc(cluster), ['apply', '-f', '-'], toolboxPod(name, node, cmd)).code).toBe(0);
    }
    const server = await runningPod('leaf-1', 'server');
    await runningPod('leaf-1', 'client');
    await runningPod('leaf-2', 'outsider');
    expect(server.status.podIP).toMatch(/^10\.35\.254\./);
    const ping = exec('leaf-1', 'client', `ping -c 2 -W 2 ${server.status.podIP}`);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    const tcp = await eventually(() => {
      const r = exec('leaf-1', 'client', `echo ping | nc -w 3 ${server.status.podIP} 8080`);
      expect(r.stdout.trim()).toBe('pong');
      return r;
    }, 30_000);
    expect(tcp.code).toBe(0);
    const across = exec(
      'leaf-2',
      'outsider',
      `echo ping | nc -w 3 ${server.status.podIP} 8080; ping -c 1 -W 2 ${server.status.podIP}`,
    );
    expect(across.stdout).not.toContain('pong');
    expect(across.code).not.toBe(0);
  });

  it('GIVEN a Service THEN a pod resolves its cluster.local name through cluster DNS and kube-proxy carries the connection', async () => {
    const svc = kubectl(
      kc('leaf-1'),
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'pong' },
        spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: 8080 }] },
      }),
    );
    expect(svc.code, svc.stderr).toBe(0);
    const clusterIP = kubectl(kc('leaf-1'), [
      'get',
      'svc',
      'pong',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]).stdout;
    expect(clusterIP).toMatch(/^10\.1\./);
    await eventually(() => {
      const r = exec('leaf-1', 'client', 'nslookup pong.default.svc.cluster.local');
      expect(r.stdout).toContain(clusterIP);
    }, 60_000);
    await eventually(() => {
      const r = exec('leaf-1', 'client', 'echo ping | nc -w 3 pong 80');
      expect(r.stdout.trim()).toBe('pong');
    }, 60_000);
  });

  it('GIVEN a component is killed THEN the supervisor starts it again, status counts it, and the node and its pod carry on', async () => {
    const status = async () =>
      JSON.parse((await kosmosctl(dir, ['sandbox', 'status', '-o', 'json'])).stdout) as {
        component: string;
        node: string;
        cluster: string;
        pid: number;
        restarts: number;
        healthy: boolean;
      }[];
    const rows = await status();
    const victims = rows.filter(
      (r) =>
        (r.component === 'kubelet' && r.node === 'leaf-1-node-0') ||
        (r.component === 'containerd' && r.node === 'leaf-1-node-1') ||
        (r.component === 'kube-apiserver' && r.cluster === 'leaf-2'),
    );
    expect(victims).toHaveLength(3);
    for (const v of victims) process.kill(v.pid, 'SIGKILL');
    await eventually(async () => {
      const now = await status();
      for (const v of victims) {
        const row = now.find(
          (r) => r.component === v.component && r.node === v.node && r.cluster === v.cluster,
        )!;
        expect(row.pid).not.toBe(v.pid);
        expect(row.restarts).toBe(1);
        expect(row.healthy).toBe(true);
      }
    }, 90_000);
    const table = await kosmosctl(dir, ['sandbox', 'status']);
    expect(table.stdout).toMatch(/^kubelet\s+leaf-1\s+leaf-1-node-0\s+\d+\s+-\s+1\s+yes$/m);
    await eventually(() => {
      const r = kubectl(kc('leaf-1'), [
        'get',
        'node',
        'leaf-1-node-0',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      expect(r.stdout).toBe('True');
    }, 90_000);
    expect(exec('leaf-1', 'talker', 'cat /tmp/mark').stdout).toBe('started as talker\n');
  });

  it('GIVEN a pod of the Kosmos image THEN it runs the image `kosmosctl image build` made (same image id) as the Dockerfile says', async () => {
    const built = listImages().find((i) => i.name === 'kosmos')?.built;
    expect(built, 'the Kosmos image is built by up').toBeDefined();
    const pod = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'kosmos-version' },
      spec: {
        nodeName: 'leaf-2-node-0',
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: KOSMOS_IMAGE, imagePullPolicy: 'Never', args: ['--version'] }],
      },
    });
    expect(kubectl(kc('leaf-2'), ['apply', '-f', '-'], pod).code).toBe(0);
    const done = await eventually(() => {
      const p = JSON.parse(
        kubectl(kc('leaf-2'), ['get', 'pod', 'kosmos-version', '-o', 'json']).stdout,
      ) as PodJson;
      if (p.status.phase !== 'Succeeded') throw new Error(`kosmos-version: ${p.status.phase}`);
      return p;
    }, 120_000);
    const imageID = done.status.containerStatuses?.[0]?.imageID ?? '';
    expect(
      [built!.id, built!.manifestDigest].some((d) => imageID.endsWith(d)),
      imageID,
    ).toBe(true);
    expect(kubectl(kc('leaf-2'), ['logs', 'kosmos-version']).stdout.trim()).toBe('0.1.0');
  });

  it('GIVEN a file that is no image THEN image load refuses it in one line and what is loaded stays', async () => {
    const junk = join(dirname(dir), 'junk.tar');
    writeFileSync(junk, 'not an image at all');
    const r = await kosmosctl(dir, ['sandbox', 'image', 'load', junk]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(junk);
    const missing = await kosmosctl(dir, ['sandbox', 'image', 'load', join(dirname(dir), 'nope.tar')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('nope.tar');
    expect(
      kubectl(
        kc('leaf-1'),
        ['apply', '-f', '-'],
        toolboxPod('still-there', 'leaf-1-node-1', 'exec sleep 3600'),
      ).code,
    ).toBe(0);
    await runningPod('leaf-1', 'still-there');
  });

  it('GIVEN down THEN no process, network namespace, link, mount, cgroup, iptables rule or changed sysctl is left', async () => {
    const pids = JSON.parse((await kosmosctl(dir, ['sandbox', 'status', '-o', 'json'])).stdout) as {
      pid: number;
    }[];
    const down = await kosmosctl(dir, ['sandbox', 'down']);
    expect(down.code, down.stderr).toBe(0);
    for (const { pid } of pids) {
      let alive: boolean;
      try {
        alive = !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        alive = false;
      }
      expect(alive, `pid ${pid}`).toBe(false);
    }
    expect(netnsNames()).toEqual(before.netns);
    expect(linkNames()).toEqual(before.links);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dirname(dir));
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`/run/kosmos-sandbox/${sid}`);
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const entries = existsSync(join('/sys/fs/cgroup', h)) ? readdirSync(join('/sys/fs/cgroup', h)) : [];
      expect(
        entries.filter((e) => e.includes(sid)),
        h,
      ).toEqual([]);
    }
    expect(iptablesShape()).toBe(before.iptables);
    expect(readSysctls(KUBELET_GLOBAL_SYSCTLS)).toEqual(before.sysctls);
    // No shim or container of the nodes survives: nothing runs from the sandbox's folders.
    expect(processesMentioning(dirname(dir))).toEqual([]);
  });
});
