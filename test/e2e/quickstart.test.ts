/**
 * The README's quick start as written, on the sandbox's real nodes: every Kosmos component
 * runs as the pod its manifest describes, from the image the project builds, and the example
 * workload runs as real containers in the leaves. `install`, `join cluster --enable-all` for
 * both leaves, the nginx example across the virtual nodes (logs and exec through them),
 * a Service exported from leaf-1 resolved by name from a pod in leaf-2, `status`, then the
 * Deployment deleted, both leaves unjoined and Kosmos uninstalled, leaving nothing behind.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TOOLBOX_IMAGE } from '../../src/cli/image/images.js';
import { expectOk, eventually, kosmosctl, kubectl, newSandboxDir, type RunResult } from './harness.js';
import { items, kubeconfigOf, type Item } from './clustertree-helpers.js';

const dir = newSandboxDir('kosmos-quickstart-');
const host = kubeconfigOf(dir, 'host');
const leaf1 = kubeconfigOf(dir, 'leaf-1');
const leaf2 = kubeconfigOf(dir, 'leaf-2');

/** kosmosctl as the quick start runs it: KUBECONFIG names the host cluster. */
const ctl = (args: string[]): Promise<RunResult> => kosmosctl(dir, args, undefined, { KUBECONFIG: host });

function apply(kubeconfig: string, objects: unknown[]): void {
  const r = kubectl(
    kubeconfig,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
  expect(r.code, r.stderr).toBe(0);
}

type ContainerStatus = {
  ready?: boolean;
  imageID?: string;
  containerID?: string;
  state?: Record<string, unknown>;
};
const containerStatuses = (p: Item) => (p.status?.['containerStatuses'] ?? []) as ContainerStatus[];
/** A pod whose containers a container runtime started: ready, with a runtime's container ID. */
const runsForReal = (p: Item) =>
  p.status?.phase === 'Running' &&
  containerStatuses(p).length > 0 &&
  containerStatuses(p).every((c) => c.ready === true && /^containerd:\/\//.test(c.containerID ?? ''));

/** Where the pods of a namespace are not all running for real: `name phase node`, one per line. */
function notRunning(kubeconfig: string, namespace: string): string[] {
  return items(kubeconfig, ['pods', '-n', namespace])
    .filter((p) => !runsForReal(p))
    .map((p) => `${p.metadata.name} ${String(p.status?.phase)} ${p.spec.nodeName ?? '(unscheduled)'}`);
}

beforeAll(async () => {
  const up = await kosmosctl(dir, ['sandbox', 'up', '--bare']);
  if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stderr}`);
});

afterAll(async () => {
  await kosmosctl(dir, ['sandbox', 'down']);
  rmSync(dirname(dir), { recursive: true, force: true });
});

describe('the quick start on real nodes', () => {
  test('install and join run every component as its pod; the example runs as containers in both leaves; unjoin and uninstall leave nothing', async () => {
    // GIVEN three clusters with one real node each, their cluster DNS, and no Kosmos
    const corefileOf = (kc: string) =>
      (
        JSON.parse(
          kubectl(kc, ['get', 'configmap', 'coredns', '-n', 'kube-system', '-o', 'json']).stdout,
        ) as {
          data: { Corefile: string };
        }
      ).data.Corefile;
    const corefiles = new Map([host, leaf1, leaf2].map((kc) => [kc, corefileOf(kc)]));
    const crdNames = (kc: string) =>
      items(kc, ['crd'])
        .map((c) => c.metadata.name)
        .sort();
    // (the sandbox gives every cluster the kosmos.io CRDs, so that they are there before anything joins)
    const memberCrds = new Map([leaf1, leaf2].map((kc) => [kc, crdNames(kc)]));

    // WHEN step 1 of the quick start installs Kosmos into the host
    expectOk(await ctl(['install', '--cni', 'calico', '--default-nic', 'eth0']), 'install');
    // THEN the host's cluster DNS sends clusterset.local to Kosmos' DNS server and keeps the rest
    expect(corefileOf(host)).toMatch(/clusterset\.local:53 \{[^}]*forward \. \d+\.\d+\.\d+\.\d+/);
    expect(corefileOf(host).endsWith(corefiles.get(host)!)).toBe(true);
    // THEN every Kosmos pod of the host runs as containers of the Kosmos image (install waited for them)
    expect(notRunning(host, 'kosmos-system')).toEqual([]);
    const hostPods = items(host, ['pods', '-n', 'kosmos-system']);
    expect(new Set(hostPods.map((p) => p.metadata.labels?.['app.kubernetes.io/name']))).toEqual(
      new Set([
        'kosmos-redis',
        'kosmos-extender',
        'kosmos-scheduler',
        'kosmos-webhooks',
        'kosmos-clustertree',
        'kosmos-network-manager',
        'kosmos-clusterlink-controller',
        'kosmos-clusterlink-agent',
        'kosmos-clusterlink-elector',
        'kosmos-mcs-controller',
        'kosmos-mcs-dns',
      ]),
    );

    // AND running it again (an upgrade in place with nothing new) changes no workload
    const generations = () =>
      items(host, ['deployments,daemonsets', '-n', 'kosmos-system']).map(
        (d) => `${d.metadata.name}:${d.metadata.uid}:${JSON.stringify(d.status?.['observedGeneration'])}`,
      );
    const before = generations();
    expectOk(await ctl(['install', '--cni', 'calico', '--default-nic', 'eth0']), 'install again');
    expect(generations()).toEqual(before);
    // AND the host joined ClusterLink as its root cluster: no credentials, a ClusterNode per node
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
    await eventually(() => {
      const linked = items(host, ['clusternodes', '-l', 'kosmos.io/cluster=host']).map(
        (n) => n.metadata.name,
      );
      expect(linked).toEqual(['host-host-node-0']);
    }, 120_000);

    // WHEN step 2 joins both leaves with everything enabled
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
      expectOk(r, `join ${name}`);
      expect(r.stdout).toContain(`cluster ${name} joined`);
    }
    // THEN each leaf's virtual node is Ready, and the member side (agent, elector, DNS) runs as pods there
    const virtualNodes = items(host, ['nodes', '-l', 'kosmos.io/node']);
    expect(virtualNodes.map((n) => n.metadata.name).sort()).toEqual(['kosmos-leaf-1', 'kosmos-leaf-2']);
    for (const kc of [leaf1, leaf2])
      await eventually(() => expect(notRunning(kc, 'kosmos-system')).toEqual([]), 180_000);

    // WHEN step 3 applies the example Deployment to the host
    const example = readFileSync(join(process.cwd(), 'deploy', 'examples', 'nginx.yaml'), 'utf8');
    expect(kubectl(host, ['apply', '-f', '-'], example).code).toBe(0);
    // THEN its four pods run on the two virtual nodes, and as nginx containers in the leaves, two each
    await eventually(() => {
      const pods = items(host, ['pods', '-n', 'default', '-l', 'app=nginx']);
      expect(pods.map((p) => `${p.spec.nodeName} ${String(p.status?.phase)}`).sort()).toEqual([
        'kosmos-leaf-1 Running',
        'kosmos-leaf-1 Running',
        'kosmos-leaf-2 Running',
        'kosmos-leaf-2 Running',
      ]);
      for (const kc of [leaf1, leaf2]) {
        const leafPods = items(kc, ['pods', '-n', 'default', '-l', 'app=nginx']);
        expect(leafPods.filter(runsForReal)).toHaveLength(2);
      }
    }, 240_000);
    // AND the host pod shows the leaf's pod IP and container state
    const hostPod = items(host, ['pods', '-n', 'default', '-l', 'app=nginx'])[0]!;
    const leafOf = hostPod.spec.nodeName === 'kosmos-leaf-1' ? leaf1 : leaf2;
    const leafPod = items(leafOf, ['pods', '-n', 'default', '-l', 'app=nginx']).find(
      (p) => p.metadata.name === hostPod.metadata.name,
    );
    expect(leafPod?.status?.['podIP']).toBeTruthy();
    expect(hostPod.status?.['podIP']).toBe(leafPod?.status?.['podIP']);
    // AND kubectl exec and logs reach the container through the virtual node's kubelet API
    const version = kubectl(host, ['exec', hostPod.metadata.name, '--', 'nginx', '-v']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stderr + version.stdout).toMatch(/nginx version: nginx\/1\.22/);
    // (what the container's main process prints is its log: written there through exec)
    const marker = `printed-by-${hostPod.metadata.name}`;
    const printed = kubectl(host, [
      'exec',
      hostPod.metadata.name,
      '--',
      'sh',
      '-c',
      `echo ${marker} > /proc/1/fd/1`,
    ]);
    expect(printed.code, printed.stderr).toBe(0);
    await eventually(() => {
      const logs = kubectl(host, ['logs', hostPod.metadata.name]);
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toContain(marker);
    }, 30_000);

    // WHEN step 4 exports a Service of leaf-1
    const toolbox = (name: string, labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop', labels },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: TOOLBOX_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: [
              'sh',
              '-c',
              'mkdir -p /www && echo hello-from-leaf-1 > /www/index.html && httpd -f -p 8080 -h /www',
            ],
          },
        ],
      },
    });
    for (const kc of [host, leaf1, leaf2]) expect(kubectl(kc, ['create', 'namespace', 'shop']).code).toBe(0);
    apply(leaf1, [
      toolbox('web-0', { app: 'web' }),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      },
      {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'web', namespace: 'shop' },
      },
    ]);
    // AND the host exports a Service of its own
    apply(host, [
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
    ]);
    // THEN the other clusters import each, and a pod in leaf-2 resolves web.shop.svc.clusterset.local through its cluster DNS
    await eventually(() => {
      const names = (kc: string) =>
        items(kc, ['serviceimports.multicluster.x-k8s.io', '-n', 'shop']).map((i) => i.metadata.name);
      expect(names(leaf2)).toEqual(expect.arrayContaining(['web', 'api']));
      expect(names(leaf1)).toContain('api');
      expect(names(host)).toContain('web');
    }, 120_000);
    apply(leaf2, [
      {
        ...toolbox('client', { app: 'client' }),
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: TOOLBOX_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: ['sleep', '3600'],
            },
          ],
        },
      },
    ]);
    await eventually(
      () => expect(items(leaf2, ['pods', '-n', 'shop']).filter(runsForReal)).toHaveLength(1),
      120_000,
    );
    const importIp = await eventually(() => {
      const imp = items(leaf2, ['serviceimports.multicluster.x-k8s.io', '-n', 'shop']).find(
        (i) => i.metadata.name === 'web',
      );
      const ips = (imp?.spec?.['ips'] ?? []) as string[];
      expect(ips.length).toBeGreaterThan(0);
      return ips[0]!;
    }, 120_000);
    await eventually(() => {
      const r = kubectl(leaf2, [
        'exec',
        '-n',
        'shop',
        'client',
        '--',
        'nslookup',
        'web.shop.svc.clusterset.local',
      ]);
      expect(r.stdout, r.stderr).toContain(importIp);
    }, 120_000);
    // AND a TCP connection by that name reaches the leaf-1 pod, through ClusterLink
    await eventually(() => {
      const r = kubectl(leaf2, [
        'exec',
        '-n',
        'shop',
        'client',
        '--',
        'timeout',
        '5',
        'wget',
        '-q',
        '-O-',
        'http://web.shop.svc.clusterset.local/',
      ]);
      expect(r.stdout, r.stderr).toContain('hello-from-leaf-1');
    }, 120_000);

    // WHEN step 6 checks the network between the two leaves, pod to pod and node to node
    for (const extra of [[], ['--host-network']]) {
      const r = await ctl([
        'check',
        '--src-kubeconfig',
        leaf1,
        '--dst-kubeconfig',
        leaf2,
        '--timeout',
        '120',
        ...extra,
      ]);
      // THEN every pair of real nodes is connected
      expectOk(r, `check ${extra.join(' ')}`);
      expect(r.stdout).toMatch(/^1\s+leaf-1\s+leaf-1-node-0\s+leaf-2\s+leaf-2-node-0\s+\S+\s+PASS/m);
      expect(r.stdout).toContain('1/1 passed');
    }

    // WHEN step 5 asks how it is doing
    const status = await ctl(['status']);
    // THEN both clusters are ready with their virtual nodes, and every component is available
    expectOk(status, 'status');
    expect(status.stdout).toMatch(/leaf-1\s+tree\+link\s+one2cluster\s+p2p\s+1\s+1\/1/);
    expect(status.stdout).toMatch(/leaf-2\s+tree\+link\s+one2cluster\s+p2p\s+1\s+1\/1/);
    expect(status.stdout).toMatch(/kosmos-clustertree\s+Deployment\s+2\/2/);

    // WHEN step 7 takes it all away again
    expect(kubectl(host, ['delete', '-f', '-', '--wait=true'], example).code).toBe(0);
    await eventually(() => {
      for (const kc of [leaf1, leaf2])
        expect(items(kc, ['pods', '-n', 'default', '-l', 'app=nginx'])).toEqual([]);
    }, 120_000);
    expectOk(await ctl(['unjoin', 'cluster', '--name', 'leaf-1', '--timeout', '180']), 'unjoin leaf-1');
    // THEN leaf-1's export leaves the clusterset, what was imported into it is withdrawn, and its own pods stay
    await eventually(() => {
      for (const kc of [host, leaf2])
        expect(
          items(kc, ['serviceimports.multicluster.x-k8s.io', '-n', 'shop']).map((i) => i.metadata.name),
        ).not.toContain('web');
      expect(items(leaf1, ['endpointslices', '-A', '-l', 'multicluster.kubernetes.io/service-name'])).toEqual(
        [],
      );
    }, 120_000);
    expect(items(leaf1, ['pods', '-n', 'shop', '-l', 'app=web']).filter(runsForReal)).toHaveLength(1);
    expectOk(await ctl(['unjoin', 'cluster', '--name', 'leaf-2', '--timeout', '180']), 'unjoin leaf-2');
    expectOk(await ctl(['uninstall', '--timeout', '180']), 'uninstall');
    // THEN every cluster DNS configuration is as it was before Kosmos
    for (const [kc, corefile] of corefiles) expect(corefileOf(kc)).toBe(corefile);
    // AND nothing Kosmos made is left in any cluster
    await eventually(() => {
      for (const kc of [host, leaf1, leaf2]) {
        expect(kubectl(kc, ['get', 'namespace', 'kosmos-system']).code).not.toBe(0);
        expect(
          items(kc, ['clusterroles,clusterrolebindings', '-l', 'app.kubernetes.io/part-of=kosmos']),
        ).toEqual([]);
        expect(items(kc, ['endpointslices', '-A', '-l', 'multicluster.kubernetes.io/service-name'])).toEqual(
          [],
        );
      }
      // the host's kosmos.io CRDs went with uninstall; the members have the CRDs they had before
      expect(crdNames(host).filter((c) => /\.kosmos\.io$|\.multicluster\.x-k8s\.io$/.test(c))).toEqual([]);
      for (const [kc, crds] of memberCrds) expect(crdNames(kc)).toEqual(crds);
      expect(items(host, ['nodes', '-l', 'kosmos.io/node'])).toEqual([]);
      expect(
        items(host, [
          'mutatingwebhookconfigurations,validatingwebhookconfigurations',
          '-l',
          'app.kubernetes.io/part-of=kosmos',
        ]),
      ).toEqual([]);
    }, 180_000);
  }, 1_500_000);
});
