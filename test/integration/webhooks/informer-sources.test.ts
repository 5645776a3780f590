/**
 * InformerSources against a minimal fake apiserver speaking list and watch over HTTP: the
 * policies and Clusters reach the resolver as plain JSON, and watch events update them.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../../src/api/constants.js';
import { kindInfo } from '../../../src/api/kinds.js';
import { createLogger } from '../../../src/common/logger.js';
import { InformerSources } from '../../../src/webhooks/informer-sources.js';
import { mutatePod } from '../../../src/webhooks/pod-mutator.js';
import { startWebhookServer } from '../../../src/webhooks/server.js';
import { cdp, cluster, dp, pod } from '../../unit/webhooks/fixtures.js';

const base = `/apis/${GROUP}/${VERSION}/`;
const dpPlural = kindInfo('DistributionPolicy').plural;
const cdpPlural = kindInfo('ClusterDistributionPolicy').plural;
const clusterPlural = kindInfo('Cluster').plural;

let server: Server;
let sources: InformerSources | undefined;
let kubeconfig: KubeConfig;
const watchers = new Map<string, ServerResponse[]>();
const lists = new Map<string, unknown[]>();

beforeEach(async () => {
  lists.set(dpPlural, [
    dp(
      'web',
      [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 'leaf' }],
      [{ name: 'leaf', nodeType: 'leaf' }],
      'shop',
    ),
  ]);
  lists.set(cdpPlural, []);
  lists.set(clusterPlural, [cluster('leaf-1', {})]);
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const plural = url.pathname.slice(base.length);
    if (!url.pathname.startsWith(base) || !lists.has(plural)) {
      res.writeHead(404).end();
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watchers.set(plural, [...(watchers.get(plural) ?? []), res]);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: API_VERSION,
        kind: 'List',
        metadata: { resourceVersion: '1' },
        items: lists.get(plural),
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kubeconfig = kc;
  kc.loadFromOptions({
    clusters: [
      {
        name: 'fake',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  sources = new InformerSources(
    kc,
    createLogger('informer-test', {}, () => {}),
  );
});

afterEach(async () => {
  await sources?.stop();
  for (const list of watchers.values()) for (const res of list) res.end();
  watchers.clear();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function until(cond: () => boolean): Promise<void> {
  // Bounded by iterations, not a timed assertion: the watch event arrives within a few ticks.
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
}

describe('informer-backed sources', () => {
  it('GIVEN policies and clusters in the apiserver WHEN the sources have synced THEN a matched pod is mutated from them', async () => {
    await sources!.start(10_000);
    expect(sources!.synced()).toBe(true);
    expect(sources!.clusters().map((c) => c.metadata.name)).toEqual(['leaf-1']);
    const policies = sources!.policiesFor('shop');
    expect(policies.map((p) => p.metadata.creationTimestamp)).toEqual(['2026-01-01T00:00:00Z']);
    expect(mutatePod(pod('web-1', {}, { app: 'web' }, 'shop'), 'shop', policies).policy).toBe(
      'DistributionPolicy shop/web',
    );
    expect(sources!.policiesFor('other')).toEqual([]);
  });

  it('GIVEN synced sources WHEN a ClusterDistributionPolicy is added by a watch event THEN the next review sees it', async () => {
    await sources!.start(10_000);
    await until(() => (watchers.get(cdpPlural) ?? []).length > 0);
    const added = cdp(
      'all',
      [{ namePrefix: 'batch-', policyName: 'host' }],
      [{ name: 'host', nodeType: 'host' }],
    );
    added.metadata.resourceVersion = '2';
    for (const res of watchers.get(cdpPlural) ?? [])
      res.write(`${JSON.stringify({ type: 'ADDED', object: added })}\n`);
    await until(() => sources!.policiesFor('any').length > 0);
    expect(sources!.policiesFor('any').map((p) => `${p.kind} ${p.metadata.name}`)).toEqual([
      'ClusterDistributionPolicy all',
    ]);
  });

  it('GIVEN a webhook server started with only a kubeconfig THEN it watches policies itself and mutates a matched pod', async () => {
    const wh = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      kubeconfig,
      logger: createLogger('informer-test', {}, () => {}),
    });
    try {
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'kc-1',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          operation: 'CREATE',
          namespace: 'shop',
          object: pod('web-1', {}, { app: 'web' }, 'shop'),
        },
      };
      const text = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          `${wh.url}/mutate/pods`,
          { method: 'POST', ca: wh.caPem, headers: { 'content-type': 'application/json' } },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(review));
      });
      const response = (JSON.parse(text) as { response: { uid: string; patchType?: string } }).response;
      expect(response.uid).toBe('kc-1');
      expect(response.patchType).toBe('JSONPatch');
    } finally {
      await wh.close();
    }
  });
});
