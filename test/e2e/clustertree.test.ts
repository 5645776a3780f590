/**
 * ClusterTree end to end: a bare sandbox (host, leaf-1, leaf-2), one ClusterTree worker
 * process, and kubectl as a user would use it. The tests of this file run in order and
 * share the sandbox.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/cli/sandbox/processes.js';
import { eventually, kosmosctl, kubectl, newSandboxDir } from './harness.js';
import {
  applyJson,
  clusterObject,
  deployment,
  items,
  kubeconfigOf,
  readSandboxState,
  ready,
  startWorker,
  stopWorker,
  type Item,
  type Worker,
} from './clustertree-helpers.js';

const dir = newSandboxDir('kosmos-e2e-clustertree-');
const HOST = kubeconfigOf(dir, 'host');
const LEAF1 = kubeconfigOf(dir, 'leaf-1');
const LEAF2 = kubeconfigOf(dir, 'leaf-2');
const NS = 'shop';
let worker: Worker | undefined;

const hostPods = (app: string) => items(HOST, ['pods', '-n', NS, '-l', `app=${app}`]);
const leafPods = (kc: string, app: string) => items(kc, ['pods', '-n', NS, '-l', `app=${app}`]);
const virtualNodes = () => items(HOST, ['nodes', '-l', 'kosmos.io/node=true']);
const names = (xs: Item[]) => xs.map((x) => x.metadata.name).sort();

async function allRunning(app: string, n: number): Promise<Item[]> {
  return await eventually(() => {
    const pods = hostPods(app).filter((p) => !p.metadata.annotations?.['deleting']);
    if (pods.length !== n || pods.some((p) => p.status?.phase !== 'Running'))
      throw new Error(`host: ${pods.map((p) => `${p.metadata.name}=${p.status?.phase}`).join(' ')}`);
    return pods;
  }, 90_000);
}

describe('ClusterTree', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    const state = readSandboxState(dir);
    worker = await startWorker(dir, 'e2e-1', state.redisUrl);
    expect(kubectl(HOST, ['create', 'namespace', NS]).code).toBe(0);
  });

  afterAll(async () => {
    await stopWorker(worker);
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('joining leaf-1 and leaf-2 without leafModels gives one Ready virtual node per cluster, labelled, tainted and sized from its member nodes', async () => {
    applyJson(HOST, clusterObject(dir, 'leaf-1'));
    applyJson(HOST, clusterObject(dir, 'leaf-2'));
    const nodes = await eventually(() => {
      const ns = virtualNodes();
      if (ns.length !== 2 || ns.some((n) => ready(n) !== 'True'))
        throw new Error(`virtual nodes: ${names(ns).join(',')}`);
      return ns;
    });
    expect(names(nodes)).toEqual(['kosmos-leaf-1', 'kosmos-leaf-2']);
    const n1 = nodes.find((n) => n.metadata.name === 'kosmos-leaf-1') as Item;
    expect(n1.metadata.labels).toMatchObject({ 'kosmos.io/node': 'true', 'kosmos.io/cluster': 'leaf-1' });
    expect(n1.metadata.annotations).toMatchObject({ 'kosmos-io/owned-by-cluster': 'leaf-1' });
    expect(n1.spec.taints).toContainEqual({ key: 'kosmos.io/node', value: 'true', effect: 'NoSchedule' });
    expect(n1.status?.allocatable).toMatchObject({ cpu: '12', memory: '48Gi', pods: '330' }); // 3 members x 4 cpu, 16Gi, 110 pods
    const lease = kubectl(HOST, [
      'get',
      'lease',
      '-n',
      'kube-node-lease',
      'kosmos-leaf-1',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    expect(lease.stdout).toBe('kosmos-leaf-1');
  });

  it('the per-member-node free resources are summarised in the Cluster status', async () => {
    const status = await eventually(() => {
      const r = kubectl(HOST, ['get', 'cluster', 'leaf-1', '-o', 'jsonpath={.status.clusterTreeStatus}']);
      if (!r.stdout) throw new Error('no status yet');
      return JSON.parse(r.stdout) as { memberNodes: number; largestFree: Record<string, string> };
    });
    expect(status.memberNodes).toBe(3);
    expect(status.largestFree).toMatchObject({ cpu: '4', memory: '16Gi' });
  });

  it('a Deployment of 6 replicas on the virtual nodes runs in the leaves and shows Running in the host, with its ConfigMap in the leaf', async () => {
    applyJson(HOST, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config', namespace: NS },
      data: { greeting: 'hello' },
    });
    applyJson(
      HOST,
      deployment(
        'web',
        NS,
        6,
        { 'kosmos.io/node': 'true' },
        {
          containers: [
            { name: 'main', image: 'nginx', volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }] },
          ],
          volumes: [{ name: 'cfg', configMap: { name: 'web-config' } }],
        },
      ),
    );
    const pods = await allRunning('web', 6);
    const inLeaves = await eventually(() => {
      const l = [...leafPods(LEAF1, 'web'), ...leafPods(LEAF2, 'web')];
      if (l.length !== 6) throw new Error(`${l.length} leaf pods`);
      return l;
    });
    expect(names(inLeaves)).toEqual(names(pods));
    for (const p of inLeaves) expect(p.metadata.labels?.['kosmos-io/pod']).toBe('true');
    // The host shows the leaf's pod IPs (leaf pod CIDRs are 10.34.0.0/15 and 10.36.0.0/15).
    for (const p of pods) expect(p.status?.podIP).toMatch(/^10\.3[4-7]\./);
    for (const kc of [LEAF1, LEAF2]) {
      if (leafPods(kc, 'web').length === 0) continue;
      expect(items(kc, ['configmaps', '-n', NS]).find((c) => c.metadata.name === 'web-config')?.data).toEqual(
        { greeting: 'hello' },
      );
    }
  });

  it('kubectl logs of a pod on a virtual node shows the log of its container in the leaf', () => {
    const pod = hostPods('web')[0] as Item;
    const r = kubectl(HOST, ['logs', '-n', NS, pod.metadata.name]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/kosmos sandbox: a container of cluster leaf-[12]/);
  });

  it('an update of the ConfigMap reaches its leaf copies', async () => {
    kubectl(HOST, ['patch', 'configmap', 'web-config', '-n', NS, '-p', '{"data":{"greeting":"bye"}}']);
    await eventually(() => {
      for (const kc of [LEAF1, LEAF2]) {
        if (leafPods(kc, 'web').length === 0) continue;
        const cm = items(kc, ['configmaps', '-n', NS]).find((c) => c.metadata.name === 'web-config');
        if (cm?.data?.['greeting'] !== 'bye') throw new Error('not updated yet');
      }
    });
  });

  it('a leaf pod deleted out of band makes the host pod go away, and the Deployment replaces it', async () => {
    const victim = (leafPods(LEAF1, 'web')[0] ?? leafPods(LEAF2, 'web')[0]) as Item;
    const kc = leafPods(LEAF1, 'web').some((p) => p.metadata.name === victim.metadata.name) ? LEAF1 : LEAF2;
    expect(kubectl(kc, ['delete', 'pod', '-n', NS, victim.metadata.name]).code).toBe(0);
    await eventually(() => {
      const pods = hostPods('web');
      if (pods.some((p) => p.metadata.name === victim.metadata.name)) throw new Error('host pod still there');
      if (pods.length !== 6 || pods.some((p) => p.status?.phase !== 'Running'))
        throw new Error('not replaced yet');
    }, 90_000);
  });

  it('scaling down removes leaf pods, and deleting the Deployment removes the rest and the ConfigMap copies nobody uses', async () => {
    kubectl(HOST, ['scale', 'deployment', 'web', '-n', NS, '--replicas', '2']);
    await eventually(() => {
      const n = leafPods(LEAF1, 'web').length + leafPods(LEAF2, 'web').length;
      if (n !== 2 || hostPods('web').length !== 2) throw new Error(`${n} leaf pods`);
    }, 90_000);
    kubectl(HOST, ['delete', 'deployment', 'web', '-n', NS]);
    await eventually(() => {
      const n = leafPods(LEAF1, 'web').length + leafPods(LEAF2, 'web').length;
      if (n !== 0 || hostPods('web').length !== 0) throw new Error(`${n} leaf pods left`);
      for (const kc of [LEAF1, LEAF2]) {
        const left = items(kc, ['configmaps,secrets', '-n', NS]).filter(
          (o) => o.metadata.annotations?.['kosmos.io/global'] === 'true',
        );
        if (left.length > 0) throw new Error(`copies left: ${names(left).join(',')}`);
      }
    }, 90_000);
    // The host ConfigMap itself stays.
    expect(items(HOST, ['configmaps', '-n', NS]).some((c) => c.metadata.name === 'web-config')).toBe(true);
  });

  it('one2party: changing leafModels replaces the virtual node without a restart, and party pods run only on the selected members', async () => {
    applyJson(
      HOST,
      clusterObject(dir, 'leaf-1', [
        {
          leafNodeName: 'leaf-1',
          labels: { team: 'red' },
          nodeSelector: {
            labelSelector: {
              matchExpressions: [
                { key: 'kubernetes.io/hostname', operator: 'In', values: ['leaf-1-node-0', 'leaf-1-node-1'] },
              ],
            },
          },
        },
      ]),
    );
    const node = await eventually(() => {
      const ns = virtualNodes();
      const party = ns.find((n) => n.metadata.name === 'kosmos-leaf-1-0');
      if (!party || ns.some((n) => n.metadata.name === 'kosmos-leaf-1') || ready(party) !== 'True')
        throw new Error(names(ns).join(','));
      return party;
    });
    expect(node.metadata.labels?.['team']).toBe('red');
    expect(node.status?.allocatable).toMatchObject({ cpu: '8' });
    applyJson(HOST, deployment('party', NS, 4, { 'kubernetes.io/hostname': 'kosmos-leaf-1-0' }));
    await allRunning('party', 4);
    const lp = leafPods(LEAF1, 'party');
    expect(lp).toHaveLength(4);
    for (const p of lp) expect(['leaf-1-node-0', 'leaf-1-node-1']).toContain(p.spec.nodeName);
    kubectl(HOST, ['delete', 'deployment', 'party', '-n', NS]);
  });

  it('one2one: a virtual node per member node, and a pod on one runs on that very member node', async () => {
    applyJson(
      HOST,
      clusterObject(dir, 'leaf-2', [
        { nodeSelector: { nodeName: 'leaf-2-node-0' } },
        { nodeSelector: { nodeName: 'leaf-2-node-1' } },
      ]),
    );
    await eventually(() => {
      const ns = names(virtualNodes());
      if (ns.join(',') !== 'kosmos-leaf-1-0,leaf-2-node-0,leaf-2-node-1') throw new Error(ns.join(','));
    });
    applyJson(HOST, deployment('pinned', NS, 2, { 'kubernetes.io/hostname': 'leaf-2-node-1' }));
    await allRunning('pinned', 2);
    const lp = leafPods(LEAF2, 'pinned');
    expect(lp.map((p) => p.spec.nodeName)).toEqual(['leaf-2-node-1', 'leaf-2-node-1']);
  });

  it('the leaf apiserver stopped shows on its virtual nodes within 60 s (LeafClusterUnreachable, still Ready so nothing is evicted), and clears after a restart, with the pods intact', async () => {
    const before = hostPods('pinned')
      .map((p) => p.metadata.uid)
      .sort();
    const apiserver = readSandboxState(dir).components.find(
      (c) => c.name === 'kube-apiserver' && c.cluster === 'leaf-2',
    );
    process.kill(apiserver!.pid, 'SIGTERM');
    const stoppedAt = Date.now();
    await eventually(
      () => {
        const n = virtualNodes().find((x) => x.metadata.name === 'leaf-2-node-1') as Item;
        const outage = n.status?.conditions?.find((c) => c.type === 'LeafClusterUnreachable');
        if (outage?.status !== 'True') throw new Error('outage not shown');
        expect(ready(n)).toBe('True');
      },
      60_000,
      1_000,
    );
    expect(Date.now() - stoppedAt).toBeLessThan(60_000);
    // A restart must wait for the old apiserver to have exited and released its port.
    await eventually(() => {
      if (isAlive(apiserver!.pid)) throw new Error('apiserver still shutting down');
    }, 60_000);
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    await eventually(() => {
      const n = virtualNodes().filter((x) => x.metadata.name.startsWith('leaf-2-'));
      const outage = (x: Item) =>
        x.status?.conditions?.find((c) => c.type === 'LeafClusterUnreachable')?.status;
      if (n.length !== 2 || n.some((x) => ready(x) !== 'True' || outage(x) !== 'False'))
        throw new Error('outage still shown');
    }, 90_000);
    const after = await allRunning('pinned', 2);
    expect(after.map((p) => p.metadata.uid).sort()).toEqual(before);
    expect(leafPods(LEAF2, 'pinned')).toHaveLength(2);
    kubectl(HOST, ['delete', 'deployment', 'pinned', '-n', NS]);
  });

  it('deleting a Cluster removes its virtual nodes (Kosmos leaves them behind)', async () => {
    expect(kubectl(HOST, ['delete', 'cluster', 'leaf-2', '--timeout=60s']).code).toBe(0);
    await eventually(() => {
      const ns = names(virtualNodes());
      if (ns.join(',') !== 'kosmos-leaf-1-0') throw new Error(ns.join(','));
    });
  });
});
