/**
 * ClusterTree end to end, what changes after a pod is placed: host pod updates reaching the
 * leaf pod, a PVC bound to a host PV taking that PV into the leaf, a host PVC resize reaching
 * its leaf copy, and a collected copy leaving the host PVC's owners. A bare sandbox, one
 * worker process, leaf-1 joined; the tests run in order and share the sandbox.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kosmosctl, kubectl, newSandboxDir, sleep } from './harness.js';
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
const OWNERS = 'kosmos-io/cluster-owners';
/** The claims the resize tests made, for the owners test after them. */
let grow = { pod: '', claim: '' };
let stiff = '';

const storageClass = (name: string, allowVolumeExpansion: boolean) => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name },
  provisioner: 'kubernetes.io/no-provisioner',
  volumeBindingMode: 'Immediate',
  allowVolumeExpansion,
});

/** A host PV of `storageClassName`, a host PVC pre-bound to it (Bound before this returns), and a pod on the virtual node using the PVC. */
async function podWithClaim(pod: string, claim: string, pv: string, storageClassName: string): Promise<void> {
  applyJson(HOST, {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: pv },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      storageClassName,
      persistentVolumeReclaimPolicy: 'Retain',
      hostPath: { path: '/tmp/kosmos-e2e-nothing-mounts-this' },
    },
  });
  applyJson(HOST, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: claim, namespace: NS },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName,
      volumeName: pv,
      resources: { requests: { storage: '1Gi' } },
    },
  });
  await eventually(() => {
    const pvc = getJson<Item>(HOST, ['pvc', '-n', NS, claim]);
    if (pvc.status?.phase !== 'Bound') throw new Error(`host PVC ${pvc.status?.phase}`);
  });
  applyJson(
    HOST,
    barePod(pod, {
      containers: [{ name: 'main', image: 'nginx', volumeMounts: [{ name: 'd', mountPath: '/data' }] }],
      volumes: [{ name: 'd', persistentVolumeClaim: { claimName: claim } }],
    }),
  );
}

const leafClaimBound = (claim: string): Promise<Item> =>
  eventually(() => {
    const c = getJson<Item>(LEAF, ['pvc', '-n', NS, claim]);
    if (c.status?.phase !== 'Bound') throw new Error(`leaf PVC ${c.status?.phase}`);
    return c;
  }, 90_000);

const requested = (pvc: Item) =>
  (pvc.spec['resources'] as { requests?: { storage?: string } } | undefined)?.requests?.storage;
const capacity = (pvc: Item) => (pvc.status?.['capacity'] as { storage?: string } | undefined)?.storage;

function resizeHostClaim(claim: string, storage: string): void {
  const patch = JSON.stringify({ spec: { resources: { requests: { storage } } } });
  const r = kubectl(HOST, ['patch', 'pvc', '-n', NS, claim, '--type=merge', '-p', patch]);
  expect(r.code, r.stderr).toBe(0);
}

/** The worker's log lines (JSON) with this message. */
const logLines = (w: Worker, msg: string): Record<string, unknown>[] =>
  readFileSync(w.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['msg'] === msg);

async function failedJobs(w: Worker, type: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('clustertree_jobs_total{') &&
        l.includes(`type="${type}"`) &&
        l.includes('result="error"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('ClusterTree: updates and volumes', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
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
    await podWithClaim('with-volume', 'data', 'upd-pv', '');
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

  it('a larger request on the host PVC reaches its leaf copy, and the resized capacity flows back', async () => {
    // Names of this attempt: a retried attempt cannot re-apply a claim the first one grew.
    const id = randomBytes(2).toString('hex');
    grow = { pod: `grower-${id}`, claim: `grow-${id}` };
    const pv = `upd-pv-grow-${id}`;
    for (const kc of [HOST, LEAF]) applyJson(kc, storageClass('upd-expandable', true));
    await podWithClaim(grow.pod, grow.claim, pv, 'upd-expandable');
    await leafClaimBound(grow.claim);
    await eventually(() => {
      if (getJson<Item>(HOST, ['pvc', '-n', NS, grow.claim]).metadata.annotations?.[OWNERS] !== 'leaf-1')
        throw new Error('leaf-1 not among the owners yet');
    });

    resizeHostClaim(grow.claim, '2Gi');
    const copy = await eventually(() => {
      const c = getJson<Item>(LEAF, ['pvc', '-n', NS, grow.claim]);
      if (requested(c) !== '2Gi') throw new Error(`leaf PVC requests ${requested(c)}`);
      return c;
    });
    expect(copy.metadata.annotations?.['kosmos.io/global']).toBe('true');
    await eventually(() =>
      // The worker's log reaches its file through a pipe, a moment after the patch.
      expect(logLines(worker as Worker, 'resized leaf PVC copy')).toContainEqual(
        expect.objectContaining({ cluster: 'leaf-1', pvc: `${NS}/${grow.claim}`, from: '1Gi', to: '2Gi' }),
      ),
    );

    // No resizer serves a no-provisioner volume: play the leaf's, which grows the volume and
    // then the claim's status.capacity. The host PVC shows the leaf's capacity.
    expect(
      kubectl(LEAF, ['patch', 'pv', pv, '--type=merge', '-p', '{"spec":{"capacity":{"storage":"2Gi"}}}'])
        .code,
    ).toBe(0);
    const status = JSON.stringify({ status: { capacity: { storage: '2Gi' } } });
    const r = kubectl(LEAF, [
      'patch',
      'pvc',
      '-n',
      NS,
      grow.claim,
      '--subresource=status',
      '--type=merge',
      '-p',
      status,
    ]);
    expect(r.code, r.stderr).toBe(0);
    await eventually(() => {
      const h = getJson<Item>(HOST, ['pvc', '-n', NS, grow.claim]);
      if (capacity(h) !== '2Gi') throw new Error(`host PVC capacity ${capacity(h)}`);
    });
  });

  it('a leaf whose StorageClass refuses expansion keeps its copy as it is, with one warning, and the worker keeps serving', async () => {
    applyJson(HOST, storageClass('upd-rigid', true));
    applyJson(LEAF, storageClass('upd-rigid', false));
    const id = randomBytes(2).toString('hex');
    stiff = `stiff-${id}`;
    await podWithClaim(`stiff-user-${id}`, stiff, `upd-pv-stiff-${id}`, 'upd-rigid');
    await leafClaimBound(stiff);
    await eventually(() => {
      if (getJson<Item>(HOST, ['pvc', '-n', NS, stiff]).metadata.annotations?.[OWNERS] !== 'leaf-1')
        throw new Error('leaf-1 not among the owners yet');
    });
    const w = worker as Worker;
    const failedBefore = await failedJobs(w, 'deps');

    resizeHostClaim(stiff, '2Gi'); // the host's StorageClass allows it
    const refusal = (): Record<string, unknown>[] =>
      logLines(w, 'the leaf refused to resize a PVC copy; it keeps its size').filter(
        (l) => l['pvc'] === `${NS}/${stiff}`,
      );
    const [warning] = await eventually(() => {
      const lines = refusal();
      if (lines.length === 0) throw new Error('no warning yet');
      return lines;
    });
    expect(warning).toMatchObject({
      level: 'warn',
      cluster: 'leaf-1',
      from: '1Gi',
      to: '2Gi',
      reason: 'Forbidden',
    });
    expect(String(warning?.['error'])).toContain('403');
    await sleep(3_000); // a retried job would warn again
    expect(refusal()).toHaveLength(1);
    expect(await failedJobs(w, 'deps')).toBe(failedBefore);
    expect(requested(getJson<Item>(LEAF, ['pvc', '-n', NS, stiff]))).toBe('1Gi');

    applyJson(HOST, barePod(`after-refusal-${id}`));
    await eventually(() => leafPod(`after-refusal-${id}`), 90_000);
  });

  it('a PVC copy collected after its last pod leaves takes the cluster off the host PVC owners', async () => {
    expect(kubectl(HOST, ['delete', 'pod', '-n', NS, grow.pod, '--wait=false']).code).toBe(0);
    await eventually(() => {
      if (exists(LEAF, ['pvc', '-n', NS, grow.claim])) throw new Error('leaf PVC copy still there');
    }, 90_000);
    await eventually(() => {
      const owners = getJson<Item>(HOST, ['pvc', '-n', NS, grow.claim]).metadata.annotations?.[OWNERS];
      if (owners !== undefined) throw new Error(`host PVC owners: ${owners}`);
    });
    // The other PVC keeps its owner: its pod is still there.
    expect(getJson<Item>(HOST, ['pvc', '-n', NS, stiff]).metadata.annotations?.[OWNERS]).toBe('leaf-1');
  });
});
