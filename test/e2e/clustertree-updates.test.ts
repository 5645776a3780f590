/**
 * ClusterTree end to end, what changes after a pod is placed: host pod updates reaching the
 * leaf pod, and a PVC bound to a host PV taking that PV into the leaf. A bare sandbox, one
 * worker process, leaf-1 joined; the tests run in order and share the sandbox.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kosmosctl, kubectl, newSandboxDir } from './harness.js';
import {
  applyJson,
  clusterObject,
  getJson,
  items,
  kubeconfigOf,
  readSandboxState,
  ready,
  startWorker,
  stopWorker,
  type Item,
  type Worker,
} from './clustertree-helpers.js';

const dir = newSandboxDir('kosmos-e2e-clustertree-updates-');
const HOST = kubeconfigOf(dir, 'host');
const LEAF = kubeconfigOf(dir, 'leaf-1');
const NS = 'upd';
let worker: Worker | undefined;

const barePod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: {
    nodeName: 'kosmos-leaf-1',
    tolerations: [{ key: 'kosmos.io/node', operator: 'Exists', effect: 'NoSchedule' }],
    containers: [{ name: 'main', image: 'nginx:1.25' }],
    ...extra,
  },
});

const leafPod = (name: string): Item => getJson<Item>(LEAF, ['pod', '-n', NS, name]);
const exists = (kc: string, args: string[]) => kubectl(kc, ['get', ...args]).code === 0;

describe('ClusterTree: updates and volumes', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare']);
    expect(up.code, up.stderr).toBe(0);
    worker = await startWorker(dir, 'e2e-upd', readSandboxState(dir).redisUrl);
    expect(kubectl(HOST, ['create', 'namespace', NS]).code).toBe(0);
    applyJson(HOST, clusterObject(dir, 'leaf-1'));
    await eventually(() => {
      const n = items(HOST, ['nodes', '-l', 'kosmos.io/node=true']);
      if (n.length !== 1 || ready(n[0] as Item) !== 'True') throw new Error('virtual node not Ready');
    });
  });

  afterAll(async () => {
    await stopWorker(worker);
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('kubectl label and kubectl set image on a host pod show up on its leaf pod, which keeps its node', async () => {
    applyJson(HOST, barePod('solo'));
    const before = await eventually(() => {
      const p = leafPod('solo');
      if (!p.spec.nodeName) throw new Error('leaf pod not scheduled yet');
      return p;
    }, 90_000);
    expect(kubectl(HOST, ['label', 'pod', '-n', NS, 'solo', 'tier=gold']).code).toBe(0);
    expect(kubectl(HOST, ['annotate', 'pod', '-n', NS, 'solo', 'example.com/note=hi']).code).toBe(0);
    expect(kubectl(HOST, ['set', 'image', '-n', NS, 'pod/solo', 'main=nginx:1.27']).code).toBe(0);
    const after = await eventually(() => {
      const p = leafPod('solo');
      const image = (p.spec['containers'] as { image: string }[])[0]?.image;
      if (p.metadata.labels?.['tier'] !== 'gold' || image !== 'nginx:1.27')
        throw new Error(`leaf pod: tier=${p.metadata.labels?.['tier']} image=${image}`);
      return p;
    });
    expect(after.metadata.annotations?.['example.com/note']).toBe('hi');
    expect(after.metadata.labels?.['kosmos-io/pod']).toBe('true');
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.spec.nodeName).toBe(before.spec.nodeName);
    // A label removed in the host is removed in the leaf.
    expect(kubectl(HOST, ['label', 'pod', '-n', NS, 'solo', 'tier-']).code).toBe(0);
    await eventually(() => {
      if (leafPod('solo').metadata.labels?.['tier'] !== undefined)
        throw new Error('label still on the leaf pod');
    });
    expect(kubectl(HOST, ['delete', 'pod', '-n', NS, 'solo', '--wait=false']).code).toBe(0);
  });

  it('a PVC bound to a host PV takes the PV into the leaf, bound there, and both copies go with the pod and the PVC', async () => {
    applyJson(HOST, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'upd-pv' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: '/tmp/kosmos-e2e-nothing-mounts-this' },
      },
    });
    applyJson(HOST, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: NS },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        volumeName: 'upd-pv',
        resources: { requests: { storage: '1Gi' } },
      },
    });
    await eventually(() => {
      const pvc = getJson<Item>(HOST, ['pvc', '-n', NS, 'data']);
      if (pvc.status?.phase !== 'Bound') throw new Error(`host PVC ${pvc.status?.phase}`);
    });
    applyJson(
      HOST,
      barePod('with-volume', {
        containers: [{ name: 'main', image: 'nginx', volumeMounts: [{ name: 'd', mountPath: '/data' }] }],
        volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }],
      }),
    );
    const [pvc, pv] = await eventually(() => {
      const c = getJson<Item>(LEAF, ['pvc', '-n', NS, 'data']);
      const v = getJson<Item>(LEAF, ['pv', 'upd-pv']);
      if (c.status?.phase !== 'Bound' || v.status?.phase !== 'Bound')
        throw new Error(`leaf PVC ${c.status?.phase}, PV ${v.status?.phase}`);
      return [c, v];
    }, 90_000);
    expect(pvc.spec['volumeName']).toBe('upd-pv');
    expect(pvc.metadata.annotations?.['kosmos.io/global']).toBe('true');
    expect(pv.spec['persistentVolumeReclaimPolicy']).toBe('Retain');
    expect(pv.spec['claimRef']).toMatchObject({ namespace: NS, name: 'data', uid: pvc.metadata.uid });
    expect(pv.metadata.annotations?.['kosmos.io/global']).toBe('true');
    const hostPvc = getJson<Item>(HOST, ['pvc', '-n', NS, 'data']);
    expect(hostPvc.metadata.annotations?.['kosmos-io/cluster-owners']).toBe('leaf-1');
    expect(hostPvc.status?.phase).toBe('Bound');
    await eventually(() => {
      if (getJson<Item>(LEAF, ['pod', '-n', NS, 'with-volume']).status?.phase !== 'Running')
        throw new Error('leaf pod not Running');
    }, 90_000);

    expect(kubectl(HOST, ['delete', 'pod', '-n', NS, 'with-volume', '--wait=false']).code).toBe(0);
    expect(kubectl(HOST, ['delete', 'pvc', '-n', NS, 'data', '--wait=false']).code).toBe(0);
    await eventually(() => {
      if (exists(LEAF, ['pod', '-n', NS, 'with-volume'])) throw new Error('leaf pod still there');
      if (exists(LEAF, ['pvc', '-n', NS, 'data'])) throw new Error('leaf PVC still there');
      if (exists(LEAF, ['pv', 'upd-pv'])) throw new Error('leaf PV still there');
      if (exists(HOST, ['pvc', '-n', NS, 'data'])) throw new Error('host PVC still there');
    }, 90_000);
    // The host PV is the host's: Kosmos leaves it alone (Released, by its own Retain policy).
    expect(getJson<Item>(HOST, ['pv', 'upd-pv']).status?.phase).toBe('Released');
  });
});
