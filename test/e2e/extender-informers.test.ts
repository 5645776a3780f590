/**
 * The extender's list+watch sources (startInformers) against the real kube-apiservers of a
 * bare sandbox: objects reach the cache as plain JSON (timestamps stay strings), watch
 * events apply, leaf clusters are read through the kubeconfig their Cluster object
 * carries, a kind whose CRD is not installed does not hold up the sync, and a deletion the
 * watch never saw (the host apiserver restarted meanwhile) is found by the re-list.
 *
 * The informers reach the host apiserver through a plain TCP relay (TLS stays end to end,
 * the relay sees only bytes), standing in for the load balancer in front of an HA control
 * plane: it can hold new connections while the apiserver restarts, nothing more.
 */
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_OWNED_BY_CLUSTER,
  API_VERSION,
  LABEL_CLUSTER,
  LABEL_NODE,
  LABEL_ROLE_AGENT,
  TAINT_NODE,
} from '../../src/api/constants.js';
import { sandboxDown, sandboxUp } from '../../src/cli/sandbox/sandbox.js';
import { stopProcess } from '../../src/cli/sandbox/processes.js';
import { readState } from '../../src/cli/sandbox/state.js';
import { parseTopologyObject } from '../../src/cli/sandbox/topology.js';
import type { Logger } from '../../src/common/logger.js';
import { ExtenderCache } from '../../src/extender/cache.js';
import { startInformers, type Informers } from '../../src/extender/informers.js';
import { filterPod } from '../../src/extender/placement/engine.js';
import { toPodView } from '../../src/extender/placement/pod-view.js';
import { pod, TERMS } from '../unit/extender/fixtures.js';
import { eventually, kubectl, newSandboxDir } from './harness.js';

const dir = newSandboxDir('kosmos-e2e-extender-informers-');
const kubeconfigFile = (cluster: string) => `${dir}/${cluster}/kubeconfig`;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const topology = parseTopologyObject({
  clusters: [
    { name: 'host', nodes: [{ name: 'h-1', cpu: '4', memory: '8Gi' }] },
    { name: 'leaf-1', nodes: [{ name: 'm-1', cpu: '4', memory: '8Gi' }] },
  ],
});

function run(cluster: string, args: string[], input?: string): string {
  const r = kubectl(kubeconfigFile(cluster), args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const apply = (cluster: string, doc: object) => run(cluster, ['apply', '-f', '-'], JSON.stringify(doc));

/** A node kwok keeps Ready. */
function kwokNode(
  name: string,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, type: 'kwok', ...extra.labels },
      annotations: { 'kwok.x-k8s.io/node': 'fake', ...extra.annotations },
    },
    status: {
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    },
  };
}

/** The virtual node of leaf-1 as ClusterTree publishes it. */
function virtualNode(cluster: string) {
  const node = kwokNode(`kosmos-${cluster}`, {
    labels: { [LABEL_NODE]: 'true', [LABEL_CLUSTER]: cluster, [LABEL_ROLE_AGENT]: 'agent' },
    annotations: { [ANNOTATION_OWNED_BY_CLUSTER]: cluster },
  });
  return { ...node, spec: { taints: [{ ...TAINT_NODE }] } };
}

interface Entry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}
/** A logger that keeps what the sources say, so a test can tell which path they took. */
function recordingLogger(entries: Entry[], base: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      void entries.push({ level, msg, fields: { ...base, ...fields } });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(entries, { ...base, ...fields }),
  };
}

/** A TCP relay to `port` that can hold new connections (queued, not refused) until released. */
async function tcpRelay(port: number) {
  let holding = false;
  const held: net.Socket[] = [];
  const open = new Set<net.Socket>();
  const connect = (client: net.Socket) => {
    const upstream = net.connect(port, '127.0.0.1');
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    if (holding) {
      client.pause();
      held.push(client);
    } else connect(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    hold() {
      holding = true;
    },
    /** Connections that arrived while holding. */
    heldCount: () => held.length,
    release() {
      holding = false;
      for (const c of held.splice(0)) if (!c.destroyed) connect(c);
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let relay: Awaited<ReturnType<typeof tcpRelay>> | undefined;
let informers: Informers | undefined;
const cache = new ExtenderCache();
const logs: Entry[] = [];
const both = ['h-1', 'kosmos-leaf-1'];
const decide = (cpu: string) => filterPod(toPodView(pod('leafy-1', { requests: { cpu } })), both, cache);

describe('extender informers against real apiservers', () => {
  beforeAll(async () => {
    await sandboxUp({ dir, topology, bare: true, progress: () => {} });
    // Only ClusterDistributionPolicies are used here; WorkloadPolicy is "not installed".
    run('host', ['delete', 'crd', 'workloadpolicies.kosmos.io']);
    apply('host', kwokNode('h-old'));
    apply('host', virtualNode('leaf-1'));
    apply('host', {
      apiVersion: API_VERSION,
      kind: 'ClusterDistributionPolicy',
      metadata: { name: 'leafy' },
      spec: { resourceSelectors: [{ namePrefix: 'leafy', policyName: 'leaf' }], policyTerms: TERMS },
    });
    apply('host', {
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: 'leaf-1' },
      spec: { kubeconfig: readFileSync(kubeconfigFile('leaf-1')).toString('base64') },
    });
    // A member pod bound to m-1 holding 3 of its 4 cpu.
    apply('leaf-1', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'busy', namespace: 'default' },
      spec: {
        nodeName: 'm-1',
        containers: [{ name: 'c', image: 'nginx', resources: { requests: { cpu: '3' } } }],
      },
    });

    const hostApi = readState(dir)?.ports['host/kube-apiserver'];
    if (!hostApi) throw new Error('no host apiserver port in the sandbox state');
    relay = await tcpRelay(hostApi);
    const host = new KubeConfig();
    host.loadFromFile(kubeconfigFile('host'));
    const viaRelay = new KubeConfig();
    viaRelay.loadFromOptions({
      clusters: host.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${relay!.port}` })),
      users: host.users,
      contexts: host.contexts,
      currentContext: host.currentContext,
    });
    informers = startInformers({ host: viaRelay, cache, log: recordingLogger(logs) });
  });

  afterAll(async () => {
    try {
      informers?.stop();
      await relay?.close();
    } finally {
      await sandboxDown({ dir, progress: () => {} });
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('GIVEN nodes, a ClusterDistributionPolicy and a Cluster with a kubeconfig WHEN the informers sync THEN the cache holds them as plain JSON and the leaf is read through that kubeconfig', async () => {
    await eventually(() => {
      expect(informers!.synced()).toBe(true);
      expect(cache.members.hasCluster('leaf-1')).toBe(true);
      expect(cache.policies()).toHaveLength(1);
    });
    expect(cache.node('kosmos-leaf-1')).toMatchObject({
      leaf: true,
      cluster: 'leaf-1',
      scope: { kind: 'cluster' },
    });
    expect(cache.node('h-old')).toBeDefined();
    expect(cache.policies()[0]).toMatchObject({
      kind: 'ClusterDistributionPolicy',
      metadata: { name: 'leafy' },
    });
    expect(cache.policies()[0]?.metadata.creationTimestamp).toMatch(ISO_TIME);
  });

  it('GIVEN a member pod holding 3 of the only member node’s 4 cpu THEN a leafy pod asking 2 cpu is refused on the leaf with the largest free fit', async () => {
    // The cluster policy sends leafy-* pods to leaves only, so h-1 is refused as well.
    const d = await eventually(() => {
      const r = decide('2');
      expect(r.rejected.map((x) => x.node).sort()).toEqual(both);
      return r;
    });
    expect(d.rejected.find((r) => r.node === 'kosmos-leaf-1')?.reason).toBe(
      'leaf-1: no member node has 2 cpu free; largest 1',
    );
  });

  it('GIVEN synced informers WHEN the member pod is deleted and host nodes are added and removed THEN the watch events reach the cache', async () => {
    run('leaf-1', ['delete', 'pod', 'busy', '--grace-period=0', '--force', '--wait=false']);
    apply('host', kwokNode('h-2'));
    run('host', ['delete', 'node', 'h-old', '--wait=false']);
    await eventually(() => {
      expect(cache.node('h-2')).toBeDefined();
      expect(cache.node('h-old')).toBeUndefined();
      expect(decide('2').rejected.map((x) => x.node)).toEqual(['h-1']);
    });
    for (const n of ['h-1', 'h-2', 'kosmos-leaf-1']) expect(cache.node(n), n).toBeDefined();
    expect(cache.nodeCount()).toBe(3);
  });

  it('GIVEN the host apiserver forgot the watch’s resourceVersion (etcd compacted, watch cache rebuilt) WHEN a node is deleted before the watch resumes THEN the resumed watch gets 410 Gone and the re-list removes the node', async () => {
    const state = readState(dir);
    const etcdPort = state?.ports['etcd'];
    const etcd = state?.components.find((c) => c.name === 'etcd');
    if (!etcdPort || !etcd) throw new Error('no etcd in the sandbox state');
    const gateway = async (path: string, body: object) => {
      const res = await fetch(`http://127.0.0.1:${etcdPort}/v3/${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as { header?: { revision?: string } };
    };
    const h2 = JSON.parse(run('host', ['get', 'node', 'h-2', '-o', 'json'])) as {
      metadata: { resourceVersion: string };
    };
    const mark = logs.length;
    relay!.hold(); // the watch open now keeps going; what comes after it waits at the relay
    // Two writes elsewhere move etcd past every revision the node watchers have seen.
    const bump = Date.now().toString(36); // fresh names: a retried case creates them again
    run('host', ['create', 'configmap', `bump-${bump}-1`]);
    run('host', ['create', 'configmap', `bump-${bump}-2`]);
    const revision = (await gateway('kv/range', { key: Buffer.from('/').toString('base64') })).header
      ?.revision;
    await gateway('kv/compaction', { revision, physical: true });
    // etcd restarts: the apiserver's etcd watches resume from compacted revisions, so its
    // watch cache re-lists and ends every client watch cleanly.
    await stopProcess(etcd.pid, etcd.command);
    // `up` restarts only what is dead (etcd); the rest of its checks run meanwhile. The
    // relay is released as soon as the watch cache is back, well within the watch's own
    // 30 s connect timeout.
    const up = sandboxUp({ dir, topology, bare: true, progress: () => {} });
    up.catch(() => {});
    try {
      await eventually(
        () => {
          expect(relay!.heldCount()).toBeGreaterThan(0);
          // The rebuilt watch cache no longer serves a watch from before the restart: 410 Gone.
          const stale = run('host', [
            'get',
            '--raw',
            `/api/v1/nodes?watch=1&resourceVersion=${h2.metadata.resourceVersion}&timeoutSeconds=1`,
          ]);
          expect(stale).toMatch(/"type":"ERROR".*"code":410/);
        },
        60_000,
        200,
      );
      run('host', ['delete', 'node', 'kosmos-leaf-1', '--wait=false']);
      relay!.release();
      await eventually(() => expect(cache.node('kosmos-leaf-1')).toBeUndefined());
    } finally {
      relay!.release();
      await up;
    }
    expect(cache.node('h-2')).toBeDefined();
    expect(cache.nodeCount()).toBe(2);
    const nodeLogs = logs.slice(mark).filter((e) => e.fields['source'] === '/api/v1/nodes');
    // What made the source re-list is the ERROR event (410 Gone) its resumed watch got ...
    expect(nodeLogs.map((e) => e.msg)).toContain('resourceVersion expired (410 Gone); relisting');
    // ... and nothing on the way was worth a warning (a watch ended by the restart is debug).
    expect(nodeLogs.filter((e) => e.level !== 'debug' && e.level !== 'info')).toEqual([]);
  });

  it('GIVEN the host apiserver restarts WHEN a node is deleted while it is down THEN the broken watch is followed by a re-list that removes the node', async () => {
    apply('host', kwokNode('h-3'));
    await eventually(() => expect(cache.node('h-3')).toBeDefined());
    const api = readState(dir)?.components.find((c) => c.name === 'kube-apiserver' && c.cluster === 'host');
    if (!api) throw new Error('no host kube-apiserver in the sandbox state');
    const mark = logs.length;
    relay!.hold();
    await stopProcess(api.pid, api.command);
    await eventually(() => expect(relay!.heldCount()).toBeGreaterThan(0), 30_000, 100);
    await sandboxUp({ dir, topology, bare: true, progress: () => {} }); // restarts only what is dead
    run('host', ['delete', 'node', 'h-3', '--wait=false']);
    relay!.release();
    await eventually(() => expect(cache.node('h-3')).toBeUndefined());
    expect(cache.node('h-2')).toBeDefined();
    expect(cache.nodeCount()).toBe(2);
    const nodeLogs = logs.slice(mark).filter((e) => e.fields['source'] === '/api/v1/nodes');
    expect(nodeLogs.some((e) => e.msg === 'watch ended' && e.fields['error'])).toBe(true);
  });
});
