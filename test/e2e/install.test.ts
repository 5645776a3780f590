/**
 * The quick start on real control planes: `kosmosctl install`, `join cluster` for both
 * leaves with --enable-all, a Deployment in the host that runs across the leaves, Services
 * exported from a leaf and the host and resolved through a member's clusterset DNS server,
 * `status`, then `unjoin` and `uninstall` leaving nothing behind. Components run as local processes
 * built from the installed manifests (see install-helpers.ts for the few rewrites).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLI, eventually, kosmosctl, kubectl, newSandboxDir, type RunResult } from './harness.js';
import { freePort, items, kubeconfigOf, readSandboxState } from './clustertree-helpers.js';
import { pointWebhooksAt, startWorkloads, stopAll, waitListening, type Running } from './install-helpers.js';
import { KubeClient } from '../../src/common/kube.js';
import { renderMember } from '../../src/cli/install/render.js';
import { applyObjects } from '../../src/cli/install/apply.js';

const dir = newSandboxDir('kosmos-install-');
const work = mkdtempSync(join(tmpdir(), 'kosmos-install-run-'));
const host = kubeconfigOf(dir, 'host');
const leaf1 = kubeconfigOf(dir, 'leaf-1');
const leaf2 = kubeconfigOf(dir, 'leaf-2');
let running: Running[] = [];

/** kosmosctl as the quick start runs it: KUBECONFIG names the host cluster. */
async function ctl(args: string[]): Promise<RunResult> {
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, KUBECONFIG: host, KOSMOS_SANDBOX_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function applyList(kubeconfig: string, items: unknown[]): void {
  const r = kubectl(
    kubeconfig,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  );
  expect(r.code, r.stderr).toBe(0);
}

function expectOk(r: RunResult): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

beforeAll(async () => {
  const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
  if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stderr}`);
});

afterAll(async () => {
  await stopAll(running);
  await kosmosctl(dir, ['sandbox', 'down']);
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

describe('quick start', () => {
  test('install, join both leaves, run a Deployment across them, see it in status, then unjoin and uninstall leave nothing', async () => {
    // GIVEN clusters with no Kosmos
    const redisUrl = readSandboxState(dir).redisUrl as string;

    // AND the host and leaf-1 run CoreDNS as kubeadm configures it (leaf-2 has none)
    const corefile =
      '.:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n    reload\n}\n';
    for (const kc of [host, leaf1])
      expect(
        kubectl(
          kc,
          ['apply', '-f', '-'],
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'coredns', namespace: 'kube-system' },
            data: { Corefile: corefile },
          }),
        ).code,
      ).toBe(0);
    const corefileOf = (kc: string) =>
      (
        JSON.parse(
          kubectl(kc, ['get', 'configmap', 'coredns', '-n', 'kube-system', '-o', 'json']).stdout,
        ) as {
          data: { Corefile: string };
        }
      ).data.Corefile;
    const dnsServiceIp = (kc: string) =>
      (
        JSON.parse(
          kubectl(kc, ['get', 'service', 'kosmos-mcs-dns', '-n', 'kosmos-system', '-o', 'json']).stdout,
        ) as {
          spec: { clusterIP: string };
        }
      ).spec.clusterIP;

    // WHEN the quick start's install runs
    expectOk(await ctl(['install', '--cni', 'calico', '--default-nic', 'eth0']));
    // THEN the host's CoreDNS sends clusterset.local to the host's clusterset DNS server, and keeps the rest
    expect(corefileOf(host)).toContain(
      `clusterset.local:53 {\n    errors\n    cache 5\n    forward . ${dnsServiceIp(host)}\n}`,
    );
    expect(corefileOf(host).endsWith(corefile)).toBe(true);
    // AND running it again (an upgrade in place with nothing new) changes no workload
    const generations = () =>
      items(host, ['deployments', '-n', 'kosmos-system']).map(
        (d) => `${d.metadata.name}:${d.metadata.uid}:${JSON.stringify(d.status?.['observedGeneration'])}`,
      );
    const before = generations();
    expectOk(await ctl(['install', '--cni', 'calico', '--default-nic', 'eth0']));
    expect(generations()).toEqual(before);
    // AND the installed components run (the local stand-in for the kubelet)
    const ports = new Map<number, number>();
    for (const p of [10262, 9443, 10250, 10251, 8090, 8091, 5353]) ports.set(p, await freePort());
    running = await startWorkloads({ name: 'host', kubeconfig: host }, 'kosmos-system', {
      workDir: work,
      ports,
      addresses: {
        'redis://kosmos-redis.kosmos-system.svc:6379': redisUrl,
        'http://kosmos-extender.kosmos-system.svc:10262/': `http://127.0.0.1:${ports.get(10262)}/`,
      },
    });
    for (const r of running) {
      const port =
        r.plan.workload === 'kosmos-extender'
          ? ports.get(10262)
          : r.plan.workload === 'kosmos-webhooks'
            ? ports.get(9443)
            : r.plan.workload === 'kosmos-clustertree'
              ? ports.get(10251)
              : undefined;
      if (port) await waitListening(r, port);
    }
    await pointWebhooksAt(host, `https://127.0.0.1:${ports.get(9443)}`);
    // AND the host joined ClusterLink like a member: its own Cluster (root, no credentials),
    // the agent DaemonSet on its nodes, and a ClusterNode per node from the ClusterLink controller
    const hostCluster = JSON.parse(
      kubectl(host, ['get', 'clusters.kosmos.io', 'host', '-o', 'json']).stdout,
    ) as {
      metadata: { annotations?: Record<string, string> };
      spec: { kubeconfig?: string; clusterLinkOptions?: Record<string, unknown> };
    };
    expect(hostCluster.metadata.annotations?.['kosmos.io/cluster-role']).toBe('root');
    expect(hostCluster.spec.kubeconfig).toBeUndefined();
    expect(hostCluster.spec.clusterLinkOptions).toMatchObject({
      enable: true,
      cni: 'calico',
      defaultNICName: 'eth0',
    });
    expect(items(host, ['daemonsets', '-n', 'kosmos-system']).map((d) => d.metadata.name)).toContain(
      'kosmos-clusterlink-agent',
    );
    const hostNodes = items(host, ['nodes']).map((n) => n.metadata.name);
    expect(hostNodes.length).toBeGreaterThan(0);
    await eventually(() => {
      const linked = items(host, ['clusternodes', '-l', 'kosmos.io/cluster=host']).map(
        (n) => n.metadata.name,
      );
      expect(linked.sort()).toEqual(hostNodes.map((n) => `host-${n}`).sort());
    }, 120_000);

    // AND both leaves join with everything enabled
    for (const [name, kc] of [
      ['leaf-1', leaf1],
      ['leaf-2', leaf2],
    ] as const) {
      const r = await ctl([
        'join',
        'cluster',
        '--name',
        name,
        '--kubeconfig',
        kc,
        '--cni',
        'calico',
        '--default-nic',
        'eth0',
        '--enable-all',
      ]);
      expectOk(r);
      expect(r.stdout).toContain(`cluster ${name} joined`);
      if (name === 'leaf-2')
        expect(r.stderr).toContain('leaf-2: no kube-system/coredns Corefile; point your DNS at');
    }
    // leaf-1's CoreDNS now forwards clusterset.local to leaf-1's own DNS server; leaf-2, without CoreDNS, is told what to do
    expect(corefileOf(leaf1)).toContain(`forward . ${dnsServiceIp(leaf1)}`);
    expect(kubectl(leaf2, ['get', 'configmap', 'coredns', '-n', 'kube-system']).code).not.toBe(0);
    // the member side's elector and clusterset DNS server run too (each on its own ports)
    const dnsPorts = new Map<string, number>();
    for (const [name, kc] of [
      ['leaf-1', leaf1],
      ['leaf-2', leaf2],
    ] as const) {
      const memberPorts = new Map([
        [5353, await freePort()],
        [8091, await freePort()],
      ]);
      dnsPorts.set(name, memberPorts.get(5353)!);
      running.push(
        ...(await startWorkloads({ name, kubeconfig: kc }, 'kosmos-system', {
          workDir: work,
          ports: memberPorts,
          addresses: { 'redis://kosmos-redis.kosmos-system.svc:6379': redisUrl },
        })),
      );
    }
    expect(running.filter((r) => r.plan.workload === 'kosmos-mcs-dns').map((r) => r.plan.cluster)).toEqual([
      'host',
      'leaf-1',
      'leaf-2',
    ]);

    // AND a headless Service in leaf-1 and a ClusterIP Service in the host are exported
    for (const kc of [host, leaf1, leaf2]) expect(kubectl(kc, ['create', 'namespace', 'shop']).code).toBe(0);
    const web = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }] },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { clusterIP: 'None', selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
      },
      {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'web', namespace: 'shop' },
      },
    ];
    applyList(leaf1, web);
    const api = [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'api', namespace: 'shop' },
        spec: { ports: [{ name: 'grpc', port: 9000 }] },
      },
      {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'api', namespace: 'shop' },
      },
    ];
    applyList(host, api);

    // THEN leaf-2 and the host import web with leaf-1's pod addresses, and leaf-2's DNS server answers with them
    const webPods = await eventually(() => {
      const pods = items(leaf1, ['pods', '-n', 'shop', '-l', 'app=web']).filter((p) => p.status?.['podIP']);
      expect(pods).toHaveLength(2);
      return pods.map((p) => String(p.status?.['podIP'])).sort();
    }, 120_000);
    await eventually(() => {
      for (const kc of [host, leaf2]) {
        const imp = items(kc, ['serviceimports.multicluster.x-k8s.io', '-n', 'shop']).find(
          (i) => i.metadata.name === 'web',
        );
        expect(imp?.spec?.['type']).toBe('Headless');
      }
      const answer = spawnSync(
        'dig',
        [
          '@127.0.0.1',
          '-p',
          String(dnsPorts.get('leaf-2')),
          '+short',
          '+tries=1',
          '+time=2',
          'web.shop.svc.clusterset.local',
        ],
        { encoding: 'utf8' },
      )
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .sort();
      expect(answer).toEqual(webPods);
    }, 120_000);
    // AND every leaf imports the host's api
    await eventually(() => {
      for (const kc of [leaf1, leaf2])
        expect(
          items(kc, ['serviceimports.multicluster.x-k8s.io', '-n', 'shop']).map((i) => i.metadata.name),
        ).toContain('api');
    }, 120_000);

    // AND a Deployment is applied to the host
    const deployment = readFileSync(join(process.cwd(), 'deploy', 'examples', 'nginx.yaml'), 'utf8');
    expect(kubectl(host, ['apply', '-f', '-'], deployment).code).toBe(0);

    // THEN its pods run on both leaves' virtual nodes, and as pods in the leaves
    await eventually(() => {
      const pods = items(host, ['pods', '-n', 'default', '-l', 'app=nginx']);
      expect(pods).toHaveLength(4);
      expect(pods.every((p) => p.status?.phase === 'Running')).toBe(true);
      expect(new Set(pods.map((p) => p.spec.nodeName))).toEqual(new Set(['kosmos-leaf-1', 'kosmos-leaf-2']));
    }, 120_000);
    for (const kc of [leaf1, leaf2])
      expect(items(kc, ['pods', '-n', 'default', '-l', 'app=nginx']).length).toBe(2);

    // AND status shows both clusters ready with their virtual nodes
    const status = await ctl(['status']);
    expectOk(status);
    expect(status.stdout).toMatch(/leaf-1\s+tree\+link\s+one2cluster\s+p2p\s+1\s+1\/1/);
    expect(status.stdout).toMatch(/leaf-2\s+tree\+link\s+one2cluster\s+p2p\s+1\s+1\/1/);
    expect(status.stdout).toMatch(/kosmos-clustertree\s+Deployment\s+2\/2/);
    expect(status.stdout).toMatch(/webhook serving/);
    // and, with the Redis reachable from here, the queues' depths
    const queues = await ctl(['status', '--redis-url', redisUrl]);
    expectOk(queues);
    expect(queues.stdout).toMatch(/bull:kosmos-clustertree\s+\d+/);

    // WHEN the Deployment goes and both leaves are unjoined
    expect(kubectl(host, ['delete', 'deployment', 'nginx', '-n', 'default', '--wait=true']).code).toBe(0);
    // AND leaf-1 leaves
    expectOk(await ctl(['unjoin', 'cluster', '--name', 'leaf-1', '--timeout', '120']));
    // THEN its export leaves the clusterset, and what was imported into it is withdrawn
    await eventually(() => {
      for (const kc of [host, leaf2])
        expect(
          items(kc, ['serviceimports.multicluster.x-k8s.io', '-n', 'shop']).map((i) => i.metadata.name),
        ).not.toContain('web');
      expect(items(leaf1, ['endpointslices', '-A', '-l', 'multicluster.kubernetes.io/service-name'])).toEqual(
        [],
      );
      expect(items(leaf1, ['crd']).filter((c) => c.metadata.name.endsWith('.multicluster.x-k8s.io'))).toEqual(
        [],
      );
    }, 120_000);
    // AND the pods of its own Service stay: leaving the clusterset un-exports, it does not delete
    expect(items(leaf1, ['pods', '-n', 'shop', '-l', 'app=web'])).toHaveLength(2);
    expectOk(await ctl(['unjoin', 'cluster', '--name', 'leaf-2', '--timeout', '120']));
    expect(kubectl(host, ['delete', 'namespace', 'shop', '--wait=false']).code).toBe(0);
    // AND Kosmos is uninstalled
    expectOk(await ctl(['uninstall', '--timeout', '120']));

    // THEN the Corefiles are as they were before Kosmos
    expect(corefileOf(host)).toBe(corefile);
    expect(corefileOf(leaf1)).toBe(corefile);
    // AND nothing Kosmos made is left in any cluster
    await eventually(() => {
      for (const kc of [host, leaf1, leaf2]) {
        expect(kubectl(kc, ['get', 'namespace', 'kosmos-system']).code).not.toBe(0);
        expect(
          items(kc, ['clusterroles,clusterrolebindings', '-l', 'app.kubernetes.io/part-of=kosmos']),
        ).toEqual([]);
        expect(items(kc, ['pods', '-A', '-l', 'app=nginx'])).toEqual([]);
      }
      expect(items(host, ['nodes', '-l', 'kosmos.io/node'])).toEqual([]);
      // the host's own Cluster went with uninstall (and the kosmos.io CRDs with it)
      expect(kubectl(host, ['get', 'clusters.kosmos.io', 'host']).code).not.toBe(0);
      expect(items(host, ['crd']).filter((c) => c.metadata.name.endsWith('.kosmos.io'))).toEqual([]);
      for (const kc of [host, leaf1, leaf2]) {
        expect(items(kc, ['crd']).filter((c) => c.metadata.name.endsWith('.multicluster.x-k8s.io'))).toEqual(
          [],
        );
        expect(items(kc, ['endpointslices', '-A', '-l', 'multicluster.kubernetes.io/service-name'])).toEqual(
          [],
        );
      }
      expect(
        items(host, [
          'mutatingwebhookconfigurations,validatingwebhookconfigurations',
          '-l',
          'app.kubernetes.io/part-of=kosmos',
        ]),
      ).toEqual([]);
    }, 120_000);
  }, 600_000);
});
