/** The pure halves of join, status and check, and the CLI's one-line argument errors. */
import { spawnSync } from 'node:child_process';
import { join as pathJoin } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Cluster, ClusterNode } from '../../../src/api/kinds.js';
import { checkTable, pairs, pingSucceeded, type Probe } from '../../../src/cli/install/check.js';
import {
  clusterObject,
  memberCredentialObjects,
  leafModels,
  validateClusterName,
} from '../../../src/cli/install/join.js';
import { summarize, type NodeLike } from '../../../src/cli/install/status.js';
import { workloadReadiness } from '../../../src/cli/install/apply.js';

const CLI = pathJoin(process.cwd(), 'dist', 'cli', 'main.js');
const run = (args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '/nonexistent' },
  });

describe('join', () => {
  test('a cluster name that is not a DNS label is refused in Kubernetes field-error style', () => {
    expect(() => validateClusterName('Leaf_1')).toThrow(/--name: Invalid value: "Leaf_1"/);
    expect(() => validateClusterName('leaf-1')).not.toThrow();
  });

  test('one2one makes one tainted leaf model per member node; one2party needs a selector', () => {
    expect(leafModels('one2cluster', ['a', 'b'])).toBeUndefined();
    expect(leafModels('one2one', ['a', 'b'])).toEqual([
      {
        leafNodeName: 'a',
        nodeSelector: { nodeName: 'a' },
        taints: [{ key: 'kosmos.io/node', value: 'true', effect: 'NoSchedule' }],
      },
      {
        leafNodeName: 'b',
        nodeSelector: { nodeName: 'b' },
        taints: [{ key: 'kosmos.io/node', value: 'true', effect: 'NoSchedule' }],
      },
    ]);
    expect(() => leafModels('one2party', ['a'])).toThrow(/--party-selector/);
  });

  test('the Cluster reads its kubeconfig from the Secret join stores, with the ClusterLink options given', () => {
    const c = clusterObject(
      {
        name: 'leaf-1',
        namespace: 'kosmos-system',
        kubeconfig: 'x',
        cni: 'calico',
        defaultNic: 'eth0',
        networkType: 'gateway',
        ipFamily: 'ipv4',
        leafModel: 'one2cluster',
        tree: true,
        link: true,
        mcs: true,
        image: 'i',
        redisUrl: 'r',
        wait: false,
        timeoutMs: 1,
        progress: () => {},
      },
      ['n1'],
    ) as Cluster;
    expect(c.spec?.kubeconfigSecretRef).toEqual({
      name: 'kosmos-cluster-leaf-1',
      namespace: 'kosmos-system',
      key: 'kubeconfig',
    });
    expect(c.spec?.clusterLinkOptions).toMatchObject({
      enable: true,
      cni: 'calico',
      defaultNICName: 'eth0',
      networkType: 'gateway',
    });
    expect(c.spec?.clusterTreeOptions).toEqual({ enable: true });
  });

  test("a member's ClusterLink daemons get a host identity bound only to the member role", () => {
    const objs = memberCredentialObjects('leaf-1', 'kosmos-system');
    expect(objs.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'ServiceAccount/kosmos-member-leaf-1',
      'Secret/kosmos-member-leaf-1-token',
      'ClusterRoleBinding/kosmos-member-leaf-1',
      'RoleBinding/kosmos-member-leaf-1',
    ]);
    for (const b of objs.slice(2))
      expect((b as { roleRef?: { name: string } }).roleRef?.name).toBe('kosmos-clusterlink-member');
  });
});

describe('status', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const cluster = (name: string, networkType = 'gateway'): Cluster =>
    ({
      apiVersion: 'kosmos.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name },
      spec: { clusterLinkOptions: { enable: true, networkType }, clusterTreeOptions: { enable: true } },
    }) as Cluster;
  const vnode = (cluster: string, ready: boolean): NodeLike => ({
    metadata: { name: `kosmos-${cluster}`, annotations: { 'kosmos-io/owned-by-cluster': cluster } },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const cnode = (cluster: string, node: string, gateway: boolean): ClusterNode =>
    ({
      metadata: { name: `${cluster}-${node}` },
      spec: { clusterName: cluster, nodeName: node, roles: gateway ? ['gateway'] : [] },
    }) as ClusterNode;

  test('shows each cluster with its modes, virtual node readiness and gateway, healthy when all are ready', () => {
    const t = summarize({
      clusters: [cluster('leaf-1'), cluster('leaf-2', 'p2p')],
      virtualNodes: [vnode('leaf-1', true), vnode('leaf-2', true)],
      clusterNodes: [cnode('leaf-1', 'n1', true), cnode('leaf-1', 'n2', false), cnode('leaf-2', 'm1', false)],
      workloads: [],
      queues: { 'bull:kosmos-clustertree': 3 },
      webhookCertNotAfter: new Date('2026-03-01T00:00:00Z'),
      now,
    });
    expect(t.clusters).toEqual([
      ['leaf-1', 'tree+link', 'one2cluster', 'gateway', '1', '1/1', 'n1', '2'],
      ['leaf-2', 'tree+link', 'one2cluster', 'p2p', '1', '1/1', '-', '1'],
    ]);
    expect(t.queues).toEqual([['bull:kosmos-clustertree', '3']]);
    expect(t.certificates).toEqual([['webhook serving', '2026-03-01T00:00:00.000Z', '59d']]);
    expect(t.healthy).toBe(true);
  });

  test('a NotReady virtual node, an unavailable component or a certificate within a week of expiry is unhealthy', () => {
    const base = {
      clusters: [cluster('leaf-1')],
      virtualNodes: [vnode('leaf-1', true)],
      clusterNodes: [],
      workloads: [],
      now,
    };
    expect(summarize({ ...base, virtualNodes: [vnode('leaf-1', false)] }).healthy).toBe(false);
    expect(
      summarize({
        ...base,
        workloads: [
          {
            kind: 'Deployment',
            metadata: { name: 'x', generation: 1 },
            spec: { replicas: 2 },
            status: { observedGeneration: 1, availableReplicas: 1, updatedReplicas: 2, replicas: 2 },
          } as never,
        ],
      }).healthy,
    ).toBe(false);
    expect(summarize({ ...base, webhookCertNotAfter: new Date('2026-01-03T00:00:00Z') }).healthy).toBe(false);
  });

  test('a rollout counts as ready only once the current generation is observed and fully available', () => {
    expect(
      workloadReadiness('Deployment', {
        metadata: { generation: 2 },
        spec: { replicas: 2 },
        status: { observedGeneration: 1, availableReplicas: 2, updatedReplicas: 2, replicas: 2 },
      }).ready,
    ).toBe(false);
    expect(
      workloadReadiness('DaemonSet', {
        metadata: { generation: 1 },
        status: {
          observedGeneration: 1,
          desiredNumberScheduled: 3,
          numberAvailable: 3,
          updatedNumberScheduled: 3,
        },
      }),
    ).toEqual({ ready: true, text: '3/3' });
  });
});

describe('check', () => {
  const p = (cluster: string, node: string): Probe => ({
    cluster,
    pod: `f-${node}`,
    node,
    ip: `10.0.0.${node.length}`,
  });

  test('every source probe is paired with every destination probe, and never with itself in a full mesh', () => {
    expect(pairs([p('a', 'n1'), p('a', 'n22')], [p('b', 'm1')])).toHaveLength(2);
    const mesh = [p('a', 'n1'), p('a', 'n22'), p('a', 'n333')];
    expect(pairs(mesh, mesh)).toHaveLength(6);
  });

  test('a ping counts as passed only with one packet received, in busybox and iputils wording', () => {
    expect(pingSucceeded('1 packets transmitted, 1 packets received, 0% packet loss')).toBe(true);
    expect(pingSucceeded('1 packets transmitted, 1 received, 0% packet loss, time 0ms')).toBe(true);
    expect(pingSucceeded('1 packets transmitted, 0 packets received, 100% packet loss')).toBe(false);
  });

  test('the result table has one row per pair with the reason for a failure', () => {
    const out = checkTable([
      { src: p('a', 'n1'), dst: p('b', 'm1'), verdict: 'PASS' },
      { src: p('a', 'n1'), dst: p('b', 'm22'), verdict: 'FAIL', detail: 'timeout' },
    ]);
    expect(out.split('\n')[0]).toMatch(
      /^#\s+SRC CLUSTER\s+SRC NODE\s+DST CLUSTER\s+DST NODE\s+TARGET IP\s+RESULT$/,
    );
    expect(out).toMatch(/2\s+a\s+n1\s+b\s+m22\s+10\.0\.0\.3\s+FAIL \(timeout\)/);
  });
});

describe('command line', () => {
  test('check without --src-kubeconfig says so in one line', () => {
    const r = run(['check']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.split('\n')[0]).toMatch(/required option '--src-kubeconfig <path>' not specified/);
  });

  test('join with an unknown leaf model lists the supported ones', () => {
    const r = run(['join', 'cluster', '--name', 'x', '--kubeconfig', '/tmp/x', '--leaf-model', 'one2many']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Allowed choices are one2cluster, one2party, one2one/);
  });

  test('install with an unreachable cluster fails in one line naming the kubeconfig problem', () => {
    const r = run(['install', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/install: cannot load kubeconfig \/nonexistent\/kubeconfig/);
  });
});
