/**
 * InformerSources (the webhooks' policy and Cluster sources) against the real kube-apiserver
 * of a bare sandbox: what is listed and what is created or deleted later reaches the
 * resolver as plain JSON exactly as the apiserver sent it, and a webhook server given only
 * a kubeconfig watches the policies itself.
 */
import { readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../src/api/constants.js';
import { sandboxDown, sandboxUp } from '../../src/cli/sandbox/sandbox.js';
import { parseTopologyObject } from '../../src/cli/sandbox/topology.js';
import { createLogger } from '../../src/common/logger.js';
import { InformerSources } from '../../src/webhooks/informer-sources.js';
import { mutatePod } from '../../src/webhooks/pod-mutator.js';
import { startWebhookServer } from '../../src/webhooks/server.js';
import { pod } from '../unit/webhooks/fixtures.js';
import { eventually, kubectl, newSandboxDir } from './harness.js';

const dir = newSandboxDir('kosmos-e2e-webhooks-informers-');
const kubeconfigFile = (cluster: string) => `${dir}/${cluster}/kubeconfig`;
const host = () => kubeconfigFile('host');
const quiet = createLogger('webhooks-informers-e2e', {}, () => {});
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

function apply(doc: object): void {
  const r = kubectl(host(), ['apply', '-f', '-'], JSON.stringify(doc));
  if (r.code !== 0) throw new Error(r.stderr);
}

function del(args: string[]): void {
  const r = kubectl(host(), ['delete', '--wait=false', ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
}

const webPolicy = {
  apiVersion: API_VERSION,
  kind: 'DistributionPolicy',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    resourceSelectors: [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 'leaf' }],
    policyTerms: [{ name: 'leaf', nodeType: 'leaf' }],
  },
};

let kc: KubeConfig;
let sources: InformerSources | undefined;

describe('informer-backed webhook sources against a real apiserver', () => {
  beforeAll(async () => {
    await sandboxUp({
      dir,
      topology: parseTopologyObject({
        clusters: [
          { name: 'host', nodes: [{ count: 1 }] },
          { name: 'leaf-1', nodes: [{ count: 1 }] },
        ],
      }),
      bare: true,
      progress: () => {},
    });
    kc = new KubeConfig();
    kc.loadFromFile(host());
    const ns = kubectl(host(), ['create', 'namespace', 'shop']);
    if (ns.code !== 0) throw new Error(ns.stderr);
    apply(webPolicy);
    apply({
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: 'leaf-1' },
      spec: { kubeconfig: readFileSync(kubeconfigFile('leaf-1')).toString('base64') },
    });
    sources = new InformerSources(kc, quiet);
    await sources.start(60_000);
  });

  afterAll(async () => {
    try {
      await sources?.stop();
    } finally {
      await sandboxDown({ dir, progress: () => {} });
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('GIVEN a DistributionPolicy and a Cluster in the apiserver WHEN the sources have synced THEN a matched pod is mutated from them', () => {
    expect(sources!.synced()).toBe(true);
    expect(sources!.clusters().map((c) => c.metadata.name)).toEqual(['leaf-1']);
    const policies = sources!.policiesFor('shop');
    expect(policies.map((p) => `${p.kind} ${p.metadata.namespace}/${p.metadata.name}`)).toEqual([
      'DistributionPolicy shop/web',
    ]);
    // Plain JSON as the apiserver sent it: the timestamp is still a string, not a Date.
    expect(policies[0]?.metadata.creationTimestamp).toMatch(ISO_TIME);
    expect(mutatePod(pod('web-1', {}, { app: 'web' }, 'shop'), 'shop', policies).policy).toBe(
      'DistributionPolicy shop/web',
    );
    expect(sources!.policiesFor('other')).toEqual([]);
  });

  it('GIVEN synced sources WHEN a ClusterDistributionPolicy is created THEN the next review sees it in every namespace', async () => {
    apply({
      apiVersion: API_VERSION,
      kind: 'ClusterDistributionPolicy',
      metadata: { name: 'all' },
      spec: {
        resourceSelectors: [{ namePrefix: 'batch-', policyName: 'host' }],
        policyTerms: [{ name: 'host', nodeType: 'host' }],
      },
    });
    const seen = await eventually(() => {
      const names = sources!.policiesFor('any').map((p) => `${p.kind} ${p.metadata.name}`);
      if (names.length === 0) throw new Error('ClusterDistributionPolicy not seen yet');
      return names;
    });
    expect(seen).toEqual(['ClusterDistributionPolicy all']);
    expect(sources!.policiesFor('any')[0]?.metadata.creationTimestamp).toMatch(ISO_TIME);
    expect(mutatePod(pod('batch-1', {}, {}, 'any'), 'any', sources!.policiesFor('any')).policy).toBe(
      'ClusterDistributionPolicy all',
    );
  });

  it('GIVEN synced sources WHEN a DistributionPolicy and a Cluster are deleted THEN the next review no longer sees them', async () => {
    del(['distributionpolicy', '-n', 'shop', 'web']);
    del(['cluster', 'leaf-1']);
    await eventually(() => {
      const shop = sources!.policiesFor('shop').map((p) => `${p.kind} ${p.metadata.name}`);
      expect(shop).toEqual(['ClusterDistributionPolicy all']);
      expect(sources!.clusters()).toEqual([]);
    });
    expect(
      mutatePod(pod('web-1', {}, { app: 'web' }, 'shop'), 'shop', sources!.policiesFor('shop')).policy,
    ).toBe(undefined);
    apply(webPolicy); // for the next test
  });

  it('GIVEN a webhook server started with only a kubeconfig THEN it watches the policies itself and mutates a matched pod', async () => {
    const wh = await startWebhookServer({ port: 0, host: '127.0.0.1', kubeconfig: kc, logger: quiet });
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
      const response = (
        JSON.parse(text) as { response: { uid: string; allowed: boolean; patchType?: string } }
      ).response;
      expect(response.uid).toBe('kc-1');
      expect(response.allowed).toBe(true);
      expect(response.patchType).toBe('JSONPatch');
    } finally {
      await wh.close();
    }
  });
});
