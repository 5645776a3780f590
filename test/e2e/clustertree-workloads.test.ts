/**
 * ClusterTree for real workloads, end to end on a bare sandbox with one worker: which pods
 * stay out of the leaves (DaemonSets, kube-system), the virtual nodes' taints and one2one
 * mirroring, the kubelet API's authentication and authorization, host Services by name in
 * the leaves, and a leaf outage longer than the host's 300 s eviction timeout. leaf-1 joins
 * as one virtual node (one2cluster), leaf-2 as one virtual node per member node (one2one).
 * The tests run in order and share the sandbox.
 */
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/cli/sandbox/processes.js';
import { createCa, issueCertificate } from '../../src/common/pki.js';
import { eventually, kosmosctl, kubectl, newSandboxDir, sleep } from './harness.js';
import {
  applyJson,
  clusterObject,
  deployment,
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

const dir = newSandboxDir('kosmos-e2e-clustertree-wl-');
const HOST = kubeconfigOf(dir, 'host');
const LEAF1 = kubeconfigOf(dir, 'leaf-1');
const LEAF2 = kubeconfigOf(dir, 'leaf-2');
const NS = 'workloads';
const VIRTUAL_NODES = ['kosmos-leaf-1', 'leaf-2-node-0', 'leaf-2-node-1'];
let worker: Worker | undefined;

const virtualNodes = () => items(HOST, ['nodes', '-l', 'kosmos.io/node=true']);
const hostNode = (name: string) => getJson<Item>(HOST, ['node', name]);
const podsOf = (kc: string, app: string) => items(kc, ['pods', '-n', NS, '-l', `app=${app}`]);
const leafPodsOf = (app: string) => [...podsOf(LEAF1, app), ...podsOf(LEAF2, app)];
const onVirtualNodes = (pods: Item[]) => pods.filter((p) => VIRTUAL_NODES.includes(p.spec.nodeName ?? ''));
const condition = (n: Item, type: string) => n.status?.conditions?.find((c) => c.type === type);
const taintKeys = (n: Item) => (n.spec.taints ?? []).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`);

function daemonSet(name: string, annotations: Record<string, string> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: NS },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: {
          // As kube-proxy, CNI and log agents do: every node, whatever its taints.
          tolerations: [{ operator: 'Exists' }],
          containers: [{ name: 'agent', image: 'busybox' }],
          terminationGracePeriodSeconds: 1,
        },
      },
    },
  };
}

/** The Lease renewals of a virtual node, one per heartbeat. */
function leaseRenewTime(node: string): string {
  return kubectl(HOST, ['get', 'lease', '-n', 'kube-node-lease', node, '-o', 'jsonpath={.spec.renewTime}'])
    .stdout;
}

async function heartbeats(node: string, n: number): Promise<void> {
  let last = leaseRenewTime(node);
  for (let i = 0; i < n; i++) {
    last = await eventually(
      () => {
        const t = leaseRenewTime(node);
        if (t === last) throw new Error(`no heartbeat of ${node} since ${last}`);
        return t;
      },
      60_000,
      1_000,
    );
  }
}

/** A request to the virtual nodes' kubelet API as a client other than the host apiserver. */
async function kubeletApi(
  port: number,
  method: string,
  path: string,
  client?: { cert: string; key: string },
): Promise<{ status: number; body: string }> {
  return await new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path, rejectUnauthorized: false, ...(client ?? {}) },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('ClusterTree for real workloads', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    worker = await startWorker(dir, 'wl-1', readSandboxState(dir).redisUrl);
    expect(kubectl(HOST, ['create', 'namespace', NS]).code).toBe(0);
    applyJson(HOST, clusterObject(dir, 'leaf-1'));
    applyJson(
      HOST,
      clusterObject(dir, 'leaf-2', [
        {
          nodeSelector: { nodeName: 'leaf-2-node-0' },
          taints: [{ key: 'test-node/e2e', value: 'leafnode', effect: 'NoSchedule' }],
        },
        { nodeSelector: { nodeName: 'leaf-2-node-1' } },
      ]),
    );
    await eventually(() => {
      const nodes = virtualNodes();
      const names = nodes.map((n) => n.metadata.name).sort();
      if (names.join(',') !== VIRTUAL_NODES.join(',') || nodes.some((n) => ready(n) !== 'True'))
        throw new Error(`virtual nodes: ${names.join(',')}`);
    }, 90_000);
  });

  afterAll(async () => {
    await stopWorker(worker);
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('GIVEN a host DaemonSet tolerating every taint THEN none of its pods reaches a leaf, and each of its pods on a virtual node has an Event saying why', async () => {
    applyJson(HOST, daemonSet('agent'));
    const stuck = await eventually(() => {
      const pods = onVirtualNodes(podsOf(HOST, 'agent'));
      if (pods.length !== VIRTUAL_NODES.length) throw new Error(`${pods.length} pods on virtual nodes`);
      for (const p of pods) {
        const events = items(HOST, [
          'events',
          '-n',
          NS,
          '--field-selector',
          `involvedObject.name=${p.metadata.name},reason=NotSyncedToLeaf`,
        ]);
        if (events.length !== 1) throw new Error(`no Event on ${p.metadata.name} yet`);
      }
      return pods;
    }, 90_000);
    for (const p of stuck) expect(p.status?.phase).toBe('Pending');
    const event = items(HOST, [
      'events',
      '-n',
      NS,
      '--field-selector',
      `involvedObject.name=${stuck[0]!.metadata.name},reason=NotSyncedToLeaf`,
    ])[0] as Item & { message?: string; type?: string };
    expect(event.type).toBe('Warning');
    expect(event.message).toMatch(
      /^DaemonSet pods are not run in leaf cluster leaf-[12]; annotate .*kosmos-io\/daemonset-allow/,
    );
    // The Events are written where the leaf pods would have been created: none was.
    expect(leafPodsOf('agent')).toEqual([]);
  });

  it('GIVEN a DaemonSet whose pod template is annotated kosmos-io/daemonset-allow THEN its pods run in the leaves; deleting both DaemonSets leaves no pod behind on a virtual node', async () => {
    applyJson(HOST, daemonSet('allowed', { 'kosmos-io/daemonset-allow': 'true' }));
    await eventually(() => {
      const host = onVirtualNodes(podsOf(HOST, 'allowed'));
      if (host.length !== 3 || host.some((p) => p.status?.phase !== 'Running'))
        throw new Error(`host: ${host.map((p) => `${p.spec.nodeName}=${p.status?.phase}`).join(' ')}`);
    }, 90_000);
    expect(podsOf(LEAF1, 'allowed')).toHaveLength(1);
    expect(
      podsOf(LEAF2, 'allowed')
        .map((p) => p.spec.nodeName)
        .sort(),
    ).toEqual(['leaf-2-node-0', 'leaf-2-node-1']);
    expect(kubectl(HOST, ['delete', 'daemonset', '-n', NS, 'agent', 'allowed']).code).toBe(0);
    // No kubelet finalizes a pod bound to a virtual node but ClusterTree: skipped or not, they go.
    await eventually(() => {
      const left = onVirtualNodes([...podsOf(HOST, 'agent'), ...podsOf(HOST, 'allowed')]);
      if (left.length > 0 || leafPodsOf('allowed').length > 0)
        throw new Error(`left: ${left.map((p) => p.metadata.name).join(' ')}`);
    }, 90_000);
  });

  it("GIVEN kubectl taint on a virtual node THEN the taint survives 3 heartbeats beside ClusterTree's own, and once removed stays removed", async () => {
    const taint = kubectl(HOST, ['taint', 'node', 'kosmos-leaf-1', 'admin/test=x:NoSchedule']);
    expect(taint.code, taint.stderr).toBe(0);
    await heartbeats('kosmos-leaf-1', 3);
    expect(taintKeys(hostNode('kosmos-leaf-1'))).toEqual([
      'kosmos.io/node=true:NoSchedule',
      'admin/test=x:NoSchedule',
    ]);
    // The leafModel's taint is applied (Kosmos Go drops it).
    expect(taintKeys(hostNode('leaf-2-node-0'))).toEqual([
      'kosmos.io/node=true:NoSchedule',
      'test-node/e2e=leafnode:NoSchedule',
    ]);
    expect(kubectl(HOST, ['taint', 'node', 'kosmos-leaf-1', 'admin/test-']).code).toBe(0);
    await heartbeats('kosmos-leaf-1', 1);
    expect(taintKeys(hostNode('kosmos-leaf-1'))).toEqual(['kosmos.io/node=true:NoSchedule']);
  });

  it("GIVEN a label and an annotation on a leaf member node THEN its one2one virtual node carries them and the member's conditions, and drops the label when the member does", async () => {
    expect(kubectl(LEAF2, ['label', 'node', 'leaf-2-node-0', 'example.com/gpu=a100']).code).toBe(0);
    expect(kubectl(LEAF2, ['annotate', 'node', 'leaf-2-node-0', 'example.com/rack=r12']).code).toBe(0);
    const node = await eventually(() => {
      const n = hostNode('leaf-2-node-0');
      if (n.metadata.labels?.['example.com/gpu'] !== 'a100') throw new Error('label not mirrored yet');
      return n;
    });
    expect(node.metadata.annotations?.['example.com/rack']).toBe('r12');
    const member = getJson<Item>(LEAF2, ['node', 'leaf-2-node-0']);
    // kwok manages the member because of this annotation; the host's kwok must not manage the virtual node.
    expect(member.metadata.annotations?.['kwok.x-k8s.io/node']).toBe('fake');
    expect(node.metadata.annotations?.['kwok.x-k8s.io/node']).toBeUndefined();
    expect(node.metadata.labels?.['kubernetes.io/hostname']).toBe('leaf-2-node-0');
    expect(node.metadata.labels?.['kosmos.io/cluster']).toBe('leaf-2');
    const memberConditions = (member.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).sort();
    expect(memberConditions.length).toBeGreaterThan(0);
    expect(
      (node.status?.conditions ?? [])
        .filter((c) => c.type !== 'LeafClusterUnreachable')
        .map((c) => `${c.type}=${c.status}`)
        .sort(),
    ).toEqual(memberConditions);
    expect(condition(node, 'LeafClusterUnreachable')?.status).toBe('False');
    expect(kubectl(LEAF2, ['label', 'node', 'leaf-2-node-0', 'example.com/gpu-']).code).toBe(0);
    await eventually(() => {
      if (hostNode('leaf-2-node-0').metadata.labels?.['example.com/gpu'] !== undefined)
        throw new Error('label still mirrored');
    });
  });

  describe("the virtual nodes' kubelet API", () => {
    let port = 0;
    let pod = '';
    const ca = () => ({
      cert: readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8'),
      key: readFileSync(join(dir, 'pki', 'ca.key'), 'utf8'),
    });
    const clientCert = (user: string, issuer = ca()) =>
      issueCertificate(issuer, {
        commonName: user,
        clientAuth: true,
        validityMs: 3_600_000,
        backdateMs: 60_000,
      });

    beforeAll(async () => {
      applyJson(HOST, deployment('web', NS, 1, { 'kubernetes.io/hostname': 'kosmos-leaf-1' }));
      pod = await eventually(() => {
        const p = podsOf(HOST, 'web').find((x) => x.status?.phase === 'Running');
        if (!p) throw new Error('web not Running');
        return p.metadata.name;
      }, 90_000);
      port = (hostNode('kosmos-leaf-1').status as { daemonEndpoints: { kubeletEndpoint: { Port: number } } })
        .daemonEndpoints.kubeletEndpoint.Port;
    });

    it('GIVEN no client certificate THEN 401', async () => {
      const r = await kubeletApi(port, 'GET', `/containerLogs/${NS}/${pod}/main`);
      expect(r.status).toBe(401);
    });

    it('GIVEN a client certificate of another CA THEN 401', async () => {
      const other = createCa({ commonName: 'not-the-cluster-ca', validityMs: 3_600_000, backdateMs: 60_000 });
      const r = await kubeletApi(
        port,
        'GET',
        `/containerLogs/${NS}/${pod}/main`,
        clientCert('kube-apiserver', other),
      );
      expect(r.status).toBe(401);
    });

    it('GIVEN a certificate of a user without nodes/proxy THEN 403, for pods that exist and pods that do not', async () => {
      const intruder = clientCert('intruder');
      const r = await kubeletApi(port, 'GET', `/containerLogs/${NS}/${pod}/main`, intruder);
      expect(r.status).toBe(403);
      expect(r.body).toBe('Forbidden (user=intruder, verb=get, resource=nodes, subresource(s)=[proxy])\n');
      const missing = await kubeletApi(port, 'GET', `/containerLogs/${NS}/no-such-pod/main`, intruder);
      expect(missing.status).toBe(403);
    });

    it("GIVEN a user allowed get on nodes/proxy THEN it reads the pod's log, and may not exec (create)", async () => {
      applyJson(HOST, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'kubelet-log-reader' },
        rules: [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }],
      });
      applyJson(HOST, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'kubelet-log-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubelet-log-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'log-reader' }],
      });
      const reader = clientCert('log-reader');
      const logs = await eventually(async () => {
        const r = await kubeletApi(port, 'GET', `/containerLogs/${NS}/${pod}/main`, reader);
        if (r.status !== 200) throw new Error(`${r.status} ${r.body}`);
        return r;
      });
      expect(logs.body).toMatch(/kosmos sandbox: a container of cluster leaf-1/);
      const exec = await kubeletApi(port, 'POST', `/exec/${NS}/${pod}/main?command=true&output=1`, reader);
      expect(exec.status).toBe(403);
    });

    it('kubectl logs and exec through the host apiserver still work', () => {
      const logs = kubectl(HOST, ['logs', '-n', NS, pod]);
      expect(logs.stderr).toBe('');
      expect(logs.stdout).toMatch(/kosmos sandbox: a container of cluster leaf-1/);
      const exec = kubectl(HOST, ['exec', '-n', NS, pod, '--', 'sh', '-c', 'echo $KOSMOS_SANDBOX_CLUSTER']);
      expect(exec.code, exec.stderr).toBe(0);
      expect(exec.stdout.trim()).toBe('leaf-1');
    });
  });

  it('GIVEN a host Service whose endpoints are host pods, in a namespace pods on a virtual node use THEN that leaf has a same-name Service and exactly one EndpointSlice with those endpoints, kept in sync, and removed when no pod there uses the namespace', async () => {
    const ns = 'catalog';
    const sliceOf = (kc: string, svc: string) =>
      items(kc, ['endpointslices', '-n', ns, '-l', `kubernetes.io/service-name=${svc}`]) as (Item & {
        endpoints?: { addresses: string[] }[];
      })[];
    const addresses = (slices: ReturnType<typeof sliceOf>) =>
      slices.flatMap((sl) => (sl.endpoints ?? []).flatMap((e) => e.addresses)).sort();
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
    applyJson(HOST, namespace);
    const service = (name: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: { selector: { app: name }, ports: [{ name: 'pg', port: 5432, targetPort: 5432 }] },
      ...extra,
    });
    // Host pods on host nodes behind a host Service.
    applyJson(HOST, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'db', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'db' } },
        template: {
          metadata: { labels: { app: 'db' } },
          spec: { containers: [{ name: 'pg', image: 'postgres' }] },
        },
      },
    });
    applyJson(HOST, service('db'));
    applyJson(HOST, service('cache'));
    // An MCS derived Service in the host: each leaf has its own of that name.
    applyJson(HOST, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'derived-x1',
        namespace: ns,
        labels: { 'app.kubernetes.io/managed-by': 'mcs-controller.kosmos.io' },
      },
      spec: { ports: [{ port: 80 }] },
    });
    // The leaf's own Service named like a host one stays the leaf's.
    applyJson(LEAF1, namespace);
    applyJson(LEAF1, service('cache'));
    const hostIps = () =>
      items(HOST, ['pods', '-n', ns, '-l', 'app=db'])
        .map((p) => p.status?.podIP ?? '')
        .filter(Boolean)
        .sort();
    await eventually(() => {
      if (hostIps().length !== 2 || addresses(sliceOf(HOST, 'db')).length !== 2) throw new Error('db not up');
    }, 90_000);
    applyJson(HOST, deployment('client', ns, 1, { 'kubernetes.io/hostname': 'kosmos-leaf-1' }));
    const copy = await eventually(() => {
      const slices = sliceOf(LEAF1, 'db');
      if (slices.length !== 1 || addresses(slices).join() !== hostIps().join())
        throw new Error(`leaf slices: ${JSON.stringify(addresses(slices))}, host ${hostIps().join()}`);
      return getJson<Item>(LEAF1, ['service', '-n', ns, 'db']);
    }, 90_000);
    expect(copy.spec['selector']).toBeUndefined();
    expect(copy.spec['clusterIP']).toMatch(/^\d+\.\d+\.\d+\.\d+$/); // the leaf's own VIP
    expect(copy.spec['ports']).toMatchObject([{ name: 'pg', port: 5432, protocol: 'TCP' }]);
    const leafServices = () =>
      items(LEAF1, ['services', '-n', ns])
        .map((x) => x.metadata.name)
        .sort();
    expect(leafServices()).toEqual(['cache', 'db']);
    const cache = getJson<Item>(LEAF1, ['service', '-n', ns, 'cache']);
    expect(cache.spec['selector']).toEqual({ app: 'cache' });
    expect(cache.metadata.annotations?.['kosmos.io/global']).toBeUndefined();
    // Only the leaf that runs pods of the namespace gets copies.
    expect(kubectl(LEAF2, ['get', 'service', '-n', ns, 'db']).code).not.toBe(0);

    expect(kubectl(HOST, ['scale', 'deployment', '-n', ns, 'db', '--replicas', '3']).code).toBe(0);
    await eventually(() => {
      const want = hostIps();
      if (want.length !== 3 || addresses(sliceOf(LEAF1, 'db')).join() !== want.join())
        throw new Error('leaf slice not in sync');
    }, 90_000);

    expect(kubectl(HOST, ['delete', 'deployment', '-n', ns, 'client']).code).toBe(0);
    await eventually(() => {
      if (leafServices().join() !== 'cache' || sliceOf(LEAF1, 'db').length !== 0)
        throw new Error(`leaf services: ${leafServices().join()}`);
    }, 90_000);
  });

  it('GIVEN the leaf-1 apiserver stopped for 6 minutes (past the 300 s eviction timeout) THEN no host pod is evicted and no leaf pod deleted, and all are Running within 60 s of its return', async () => {
    applyJson(HOST, deployment('steady', NS, 3, { 'kubernetes.io/hostname': 'kosmos-leaf-1' }));
    const uids = (pods: Item[]) => pods.map((p) => p.metadata.uid).sort();
    const hostBefore = await eventually(() => {
      const pods = podsOf(HOST, 'steady');
      if (pods.length !== 3 || pods.some((p) => p.status?.phase !== 'Running'))
        throw new Error('not Running');
      return uids(pods);
    }, 90_000);
    const leafBefore = uids(podsOf(LEAF1, 'steady'));
    expect(leafBefore).toHaveLength(3);

    const apiserver = readSandboxState(dir).components.find(
      (c) => c.name === 'kube-apiserver' && c.cluster === 'leaf-1',
    );
    process.kill(apiserver!.pid, 'SIGTERM');
    const stoppedAt = Date.now();
    const down = await eventually(
      () => {
        const n = hostNode('kosmos-leaf-1');
        if (condition(n, 'LeafClusterUnreachable')?.status !== 'True')
          throw new Error('outage not shown yet');
        return n;
      },
      60_000,
      1_000,
    );
    expect(taintKeys(down)).toContain('kosmos.io/leaf-unreachable=:NoSchedule');
    // Past the host's 300 s tolerationSeconds, checking all along that nothing is evicted.
    while (Date.now() - stoppedAt < 6 * 60_000) {
      const n = hostNode('kosmos-leaf-1');
      expect(ready(n)).toBe('True');
      expect(taintKeys(n).filter((t) => t.startsWith('node.kubernetes.io/'))).toEqual([]);
      const pods = podsOf(HOST, 'steady');
      expect(uids(pods)).toEqual(hostBefore);
      expect(pods.filter((p) => (p.metadata as { deletionTimestamp?: string }).deletionTimestamp)).toEqual(
        [],
      );
      await sleep(20_000);
    }
    await eventually(() => {
      if (isAlive(apiserver!.pid)) throw new Error('apiserver still shutting down');
    }, 60_000);
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    await eventually(
      () => {
        const n = hostNode('kosmos-leaf-1');
        if (condition(n, 'LeafClusterUnreachable')?.status !== 'False') throw new Error('outage still shown');
        if (taintKeys(n).some((t) => t.startsWith('kosmos.io/leaf-unreachable')))
          throw new Error('still tainted');
        const host = podsOf(HOST, 'steady');
        const leaf = podsOf(LEAF1, 'steady');
        if (
          host.some((p) => p.status?.phase !== 'Running') ||
          leaf.some((p) => p.status?.phase !== 'Running')
        )
          throw new Error('not all Running');
        expect(uids(host)).toEqual(hostBefore);
        expect(uids(leaf)).toEqual(leafBefore);
      },
      60_000,
      1_000,
    );
  }, 600_000);
});
