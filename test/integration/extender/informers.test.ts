/**
 * The informer adapter against a small fake apiserver speaking the real list/watch wire
 * format: objects reach the cache as plain JSON (timestamps stay strings), watch events
 * apply, and leaf clusters are read through the kubeconfig their Cluster object carries.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ExtenderCache } from '../../../src/extender/cache.js';
import { startInformers, type Informers } from '../../../src/extender/informers.js';
import { filterPod } from '../../../src/extender/placement/engine.js';
import { toPodView } from '../../../src/extender/placement/pod-view.js';
import type { KubeObject } from '../../../src/api/meta.js';
import { cdp, hostNode, leafNode, memberNode, pod, TERMS } from '../../unit/extender/fixtures.js';

interface FakeApi {
  url: string;
  /** Push a watch event to every open watch on `path`. */
  emit(path: string, type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR', obj: KubeObject): void;
  /** Close the open watches on `path` (the apiserver's watch timeout). */
  endWatches(path: string): void;
  close(): Promise<void>;
}

async function fakeApiserver(
  resources: Record<string, KubeObject[]>,
): Promise<FakeApi & { resources: Record<string, KubeObject[]> }> {
  const watches = new Map<string, http.ServerResponse[]>();
  let rv = 100;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const items = resources[url.pathname];
    if (!items) {
      res
        .writeHead(404, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', code: 404 }));
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      const list = watches.get(url.pathname) ?? [];
      list.push(res);
      watches.set(url.pathname, list);
      return;
    }
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: String(rv) }, items }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    resources,
    emit(path, type, obj) {
      rv++;
      const withRv = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
      for (const res of watches.get(path) ?? []) res.write(`${JSON.stringify({ type, object: withRv })}\n`);
    },
    endWatches(path) {
      for (const res of watches.get(path) ?? []) res.end();
      watches.delete(path);
    },
    async close() {
      for (const list of watches.values()) for (const res of list) res.end();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function kubeconfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

function kubeconfigYaml(server: string): string {
  return `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('informers', () => {
  it('fill the cache from list and watch, with plain JSON objects and leaf clusters read through their Cluster kubeconfig', async () => {
    const leafApi = await fakeApiserver({
      '/api/v1/nodes': [memberNode('m-1', { cpu: '4' })],
      '/api/v1/pods': [pod('busy', { nodeName: 'm-1', requests: { cpu: '3' }, phase: 'Running' })],
    });
    cleanup.push(() => leafApi.close());
    const policy = cdp('leafy', {
      resourceSelectors: [{ namePrefix: 'leafy', policyName: 'leaf' }],
      policyTerms: TERMS,
    });
    const { kind: _k, apiVersion: _a, ...policyWithoutKind } = policy; // lists omit kind on items
    const hostApi = await fakeApiserver({
      '/api/v1/nodes': [hostNode('h-1'), leafNode('kosmos-leaf-1', 'leaf-1')],
      '/api/v1/pods': [],
      '/api/v1/persistentvolumeclaims': [],
      '/api/v1/persistentvolumes': [],
      '/apis/kosmos.io/v1alpha1/clusterdistributionpolicies': [policyWithoutKind as KubeObject],
      '/apis/kosmos.io/v1alpha1/clusters': [
        {
          metadata: { name: 'leaf-1' },
          spec: { kubeconfig: Buffer.from(kubeconfigYaml(leafApi.url)).toString('base64') },
        } as KubeObject,
      ],
      // distributionpolicies and workloadpolicies are missing: the CRDs are "not installed".
    });
    cleanup.push(() => hostApi.close());
    const cache = new ExtenderCache();
    const informers: Informers = startInformers({ host: kubeconfigFor(hostApi.url), cache, log: silent });
    cleanup.push(() => informers.stop());

    await until(() => informers.synced() && cache.members.hasCluster('leaf-1'), 'initial sync');
    await until(() => cache.policies().length === 1, 'policies');
    expect(cache.node('kosmos-leaf-1')).toMatchObject({
      leaf: true,
      cluster: 'leaf-1',
      scope: { kind: 'cluster' },
    });
    expect(cache.policies()[0]).toMatchObject({
      kind: 'ClusterDistributionPolicy',
      metadata: { creationTimestamp: '2024-01-01T00:00:00Z' },
    });

    // The cluster policy sends leafy-* pods to leaves; the only member node has 1 cpu free.
    await until(
      () =>
        filterPod(toPodView(pod('leafy-1', { requests: { cpu: '2' } })), ['h-1', 'kosmos-leaf-1'], cache)
          .rejected.length === 2,
      'member pods',
    );
    const d = filterPod(
      toPodView(pod('leafy-1', { requests: { cpu: '2' } })),
      ['h-1', 'kosmos-leaf-1'],
      cache,
    );
    expect(d.rejected.find((r) => r.node === 'kosmos-leaf-1')?.reason).toBe(
      'leaf-1: no member node has 2 cpu free; largest 1',
    );

    // Watch events: the member pod finishes, a host node is added, another removed.
    leafApi.emit(
      '/api/v1/pods',
      'MODIFIED',
      pod('busy', { uid: 'x', nodeName: 'm-1', requests: { cpu: '3' }, phase: 'Running' }),
    );
    leafApi.emit('/api/v1/pods', 'DELETED', pod('busy', { uid: 'x' }));
    hostApi.emit('/api/v1/nodes', 'ADDED', hostNode('h-2'));
    hostApi.emit('/api/v1/nodes', 'DELETED', hostNode('h-1'));
    await until(() => cache.node('h-2') !== undefined && cache.node('h-1') === undefined, 'node events');
    expect(cache.nodeCount()).toBe(2);

    // The watch expired (410 Gone) while kosmos-leaf-1 was deleted: the re-list notices.
    hostApi.resources['/api/v1/nodes'] = [hostNode('h-2')];
    hostApi.emit('/api/v1/nodes', 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {} });
    hostApi.endWatches('/api/v1/nodes');
    await until(() => cache.node('kosmos-leaf-1') === undefined, 'deletion found by re-list');
    expect(cache.nodeCount()).toBe(1);
  });
});
