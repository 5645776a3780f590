/**
 * ClusterLink in Gateway mode on real nodes, installed as users install it: the network
 * manager and controller as pods in the host, the agent and elector as pods on the members'
 * nodes. leaf-1 has two nodes, so its elector pods pick one of them as the gateway and the
 * other reaches leaf-2 through it; when the gateway's elector goes, the other node takes over
 * and traffic comes back.
 */
import { writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TOOLBOX_IMAGE } from '../../src/cli/image/images.js';
import { expectOk, eventually, kosmosctl, kubectl, newSandboxDir, type RunResult } from './harness.js';
import { items, kubeconfigOf } from './clustertree-helpers.js';

const dir = newSandboxDir('kosmos-gateway-');
const host = kubeconfigOf(dir, 'host');
const leaf1 = kubeconfigOf(dir, 'leaf-1');
const leaf2 = kubeconfigOf(dir, 'leaf-2');

/** kosmosctl as the quick start runs it: KUBECONFIG names the host cluster. */
const ctl = (args: string[]): Promise<RunResult> => kosmosctl(dir, args, undefined, { KUBECONFIG: host });

/** The gateway ClusterNodes of a cluster, by node name. */
const gateways = (cluster: string) =>
  items(host, ['clusternodes'])
    .filter(
      (n) =>
        n.spec['clusterName'] === cluster &&
        ((n.spec['roles'] as string[] | undefined) ?? []).includes('gateway'),
    )
    .map((n) => String(n.spec['nodeName'] ?? n.metadata.name));

function toolbox(name: string, node: string, command: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: TOOLBOX_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', command],
        },
      ],
    },
  };
}

function podIP(kc: string, name: string): string {
  const pod = items(kc, ['pods', '-n', 'default']).find((p) => p.metadata.name === name);
  const ip = pod?.status?.['podIP'];
  if (pod?.status?.phase !== 'Running' || typeof ip !== 'string') throw new Error(`${name}: not running yet`);
  return ip;
}

/** From each client pod of leaf-1: one ping and one HTTP GET of leaf-2's server pod. */
function reachesServer(clients: string[], serverIP: string): void {
  for (const c of clients) {
    const ping = kubectl(leaf1, ['exec', c, '--', 'ping', '-c', '1', '-W', '2', serverIP]);
    expect(ping.stdout + ping.stderr, `${c}: ping ${serverIP}`).toMatch(/1 packets received/);
    const get = kubectl(leaf1, [
      'exec',
      c,
      '--',
      'timeout',
      '5',
      'wget',
      '-q',
      '-O-',
      `http://${serverIP}:8080/`,
    ]);
    expect(get.stdout, `${c}: GET ${serverIP}:8080 ${get.stderr}`).toContain('hello-from-leaf-2');
  }
}

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
  if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stderr}`);
});

afterAll(async () => {
  await kosmosctl(dir, ['sandbox', 'down']);
  rmSync(dirname(dir), { recursive: true, force: true });
});

describe('ClusterLink Gateway mode on real nodes', () => {
  test('one gateway per cluster chosen by the elector pods carries ICMP and TCP between the leaves, and a new one takes over when its elector goes', async () => {
    // GIVEN ClusterLink installed in the host and both leaves joined in Gateway mode
    expectOk(
      await ctl(['install', '-m', 'clusterlink', '--cni', 'calico', '--default-nic', 'eth0']),
      'install',
    );
    for (const [name, kc] of [
      ['leaf-1', leaf1],
      ['leaf-2', leaf2],
    ] as const)
      expectOk(
        await ctl([
          'join',
          'cluster',
          '--name',
          name,
          '--kubeconfig',
          kc,
          '--enable-link',
          '--network-type',
          'gateway',
        ]),
        `join ${name}`,
      );
    // THEN each leaf has exactly one gateway ClusterNode, one of its own nodes
    const first = await eventually(() => {
      const g1 = gateways('leaf-1');
      expect(g1).toHaveLength(1);
      expect(['leaf-1-node-0', 'leaf-1-node-1']).toContain(g1[0]);
      expect(gateways('leaf-2')).toEqual(['leaf-2-node-0']);
      return g1[0]!;
    }, 180_000);

    // WHEN a pod on each leaf-1 node talks to a pod in leaf-2
    const apply = (kc: string, objects: unknown[]) => {
      const r = kubectl(
        kc,
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
      );
      expect(r.code, r.stderr).toBe(0);
    };
    apply(leaf2, [
      toolbox(
        'server',
        'leaf-2-node-0',
        'mkdir -p /www && echo hello-from-leaf-2 > /www/index.html && httpd -f -p 8080 -h /www',
      ),
    ]);
    apply(leaf1, [
      toolbox('client-0', 'leaf-1-node-0', 'sleep 3600'),
      toolbox('client-1', 'leaf-1-node-1', 'sleep 3600'),
    ]);
    const serverIP = await eventually(() => podIP(leaf2, 'server'), 120_000);
    await eventually(() => ['client-0', 'client-1'].map((c) => podIP(leaf1, c)), 120_000);
    // THEN both reach it, the gateway's pod directly and the other's through the gateway
    await eventually(() => reachesServer(['client-0', 'client-1'], serverIP), 120_000);

    // WHEN the gateway node can hold no elector any more and its elector pod is deleted
    expect(kubectl(leaf1, ['cordon', first]).code).toBe(0);
    const onFirst = items(leaf1, [
      'pods',
      '-n',
      'kosmos-system',
      '-l',
      'app.kubernetes.io/name=kosmos-clusterlink-elector',
    ])
      .filter((p) => p.spec.nodeName === first)
      .map((p) => p.metadata.name);
    expect(onFirst.length).toBeGreaterThan(0);
    expect(kubectl(leaf1, ['delete', 'pod', '-n', 'kosmos-system', ...onFirst, '--wait=false']).code).toBe(0);
    // THEN the other node becomes leaf-1's only gateway
    const other = first === 'leaf-1-node-0' ? 'leaf-1-node-1' : 'leaf-1-node-0';
    await eventually(() => expect(gateways('leaf-1')).toEqual([other]), 120_000);
    // AND traffic from both nodes comes back
    await eventually(() => reachesServer(['client-0', 'client-1'], serverIP), 120_000);
  }, 900_000);
});
