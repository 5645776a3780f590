import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, DEFAULT_SCHEDULER_NAME, GROUP, LABEL_NODE } from '../../../src/api/constants.js';
import { createLogger } from '../../../src/common/logger.js';
import {
  createWebhookHandler,
  startWebhookServer,
  type WebhookServer,
} from '../../../src/webhooks/server.js';
import { InMemorySources } from '../../../src/webhooks/sources.js';
import { KUBECONFIG, applySpecPatch, cluster, dp, pod } from '../../unit/webhooks/fixtures.js';

const quiet = createLogger('webhooks-test', {}, () => {});
const sources = new InMemorySources([
  dp(
    'web',
    [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 'host' }],
    [{ name: 'host', nodeType: 'host' }],
  ),
  dp(
    'leaf',
    [{ labelSelector: { matchLabels: { app: 'burst' } }, policyName: 'leaf' }],
    [{ name: 'leaf', nodeType: 'leaf' }],
  ),
]);
const app = createWebhookHandler({ context: { policies: sources, clusters: sources }, logger: quiet });

function admissionReview(req: Record<string, unknown>) {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req };
}
const podReview = (uid: string, object: unknown) =>
  admissionReview({
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'default',
    object,
  });
const kosmosReview = (
  uid: string,
  kind: string,
  object: unknown,
  operation = 'CREATE',
  oldObject?: unknown,
) =>
  admissionReview({ uid, kind: { group: GROUP, version: 'v1alpha1', kind }, operation, object, oldObject });

describe('webhook HTTP adapter', () => {
  it('GIVEN a pod matched by a leaf policy WHEN it is reviewed THEN the answer echoes the uid and carries a JSONPatch', async () => {
    const p = pod('burst-1', {}, { app: 'burst' });
    const res = await request(app).post('/mutate/pods').send(podReview('u-1', p)).expect(200);
    expect(res.body.apiVersion).toBe('admission.k8s.io/v1');
    expect(res.body.kind).toBe('AdmissionReview');
    expect(res.body.response.uid).toBe('u-1');
    expect(res.body.response.allowed).toBe(true);
    expect(res.body.response.patchType).toBe('JSONPatch');
    const mutated = applySpecPatch(p, res.body.response.patch);
    expect(mutated.spec.schedulerName).toBe(DEFAULT_SCHEDULER_NAME);
    expect(mutated.spec.tolerations).toEqual([{ key: LABEL_NODE, operator: 'Exists', effect: 'NoSchedule' }]);
  });

  it('GIVEN a pod no policy matches THEN it is allowed without a patch', async () => {
    const res = await request(app)
      .post('/mutate/pods')
      .send(podReview('u-2', pod('db', {}, { app: 'db' })))
      .expect(200);
    expect(res.body.response).toEqual({ uid: 'u-2', allowed: true });
  });

  it('GIVEN a host-policy pod selecting virtual nodes THEN validation refuses it in field-error style with a cause', async () => {
    const res = await request(app)
      .post('/validate/pods')
      .send(podReview('u-3', pod('web-1', { nodeSelector: { [LABEL_NODE]: 'true' } }, { app: 'web' })))
      .expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.code).toBe(422);
    expect(res.body.response.status.message).toMatch(
      new RegExp(
        `^Pod "web-1" is invalid: spec\\.nodeSelector\\[${LABEL_NODE}\\]: Invalid value: "true": contradicts DistributionPolicy default/web`,
      ),
    );
    expect(res.body.response.status.details.causes[0].field).toBe(`spec.nodeSelector[${LABEL_NODE}]`);
  });

  it('GIVEN a DistributionPolicy naming a missing term THEN it is refused naming the field', async () => {
    const bad = dp('bad', [{ name: 'x', policyName: 'missing' }], [{ name: 'leaf', nodeType: 'leaf' }]);
    const res = await request(app)
      .post('/validate/kosmos')
      .send(kosmosReview('u-4', 'DistributionPolicy', bad))
      .expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.message).toBe(
      'DistributionPolicy.kosmos.io "bad" is invalid: spec.resourceSelectors[0].policyName: Not found: "missing": must name one of spec.policyTerms[*].name ("leaf")',
    );
  });

  it('GIVEN a Kosmos object that breaks its schema THEN the schema error is reported before semantic rules run', async () => {
    const bad = {
      apiVersion: API_VERSION,
      kind: 'DistributionPolicy',
      metadata: { name: 'b' },
      spec: { resourceSelectors: [], policyTerms: [{ name: 't', nodeType: 'bogus' }] },
    };
    const res = await request(app)
      .post('/validate/kosmos')
      .send(kosmosReview('u-5', 'DistributionPolicy', bad))
      .expect(200);
    expect(res.body.response.status.message).toContain(
      'spec.policyTerms[0].nodeType: Unsupported value: "bogus": supported values: "host", "leaf", "mix", "adv"',
    );
  });

  it('GIVEN a valid Cluster THEN it is admitted', async () => {
    const c = cluster('leaf-1', {
      kubeconfig: KUBECONFIG,
      clusterLinkOptions: { networkType: 'gateway', ipFamily: 'ipv4' },
    });
    const res = await request(app)
      .post('/validate/kosmos')
      .send(kosmosReview('u-6', 'Cluster', c))
      .expect(200);
    expect(res.body.response).toEqual({ uid: 'u-6', allowed: true });
  });

  it('GIVEN a Cluster with an unknown ipFamily THEN it is refused listing the supported values', async () => {
    const c = {
      ...cluster('leaf-2', { kubeconfig: KUBECONFIG }),
      spec: { kubeconfig: KUBECONFIG, clusterLinkOptions: { ipFamily: 'ipv5' } },
    };
    const res = await request(app)
      .post('/validate/kosmos')
      .send(kosmosReview('u-6b', 'Cluster', c))
      .expect(200);
    expect(res.body.response.status.message).toBe(
      'Cluster.kosmos.io "leaf-2" is invalid: spec.clusterLinkOptions.ipFamily: Unsupported value: "ipv5": supported values: "all", "ipv4", "ipv6"',
    );
  });

  it('GIVEN an update that switches a running network type THEN the Cluster update is refused', async () => {
    const old = cluster('leaf-1', { kubeconfig: KUBECONFIG, clusterLinkOptions: { networkType: 'p2p' } });
    const next = cluster('leaf-1', {
      kubeconfig: KUBECONFIG,
      clusterLinkOptions: { networkType: 'gateway' },
    });
    const res = await request(app)
      .post('/validate/kosmos')
      .send(kosmosReview('u-7', 'Cluster', next, 'UPDATE', old))
      .expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.message).toMatch(/spec\.clusterLinkOptions\.networkType: Forbidden/);
  });

  it('GIVEN a delete of a Kosmos object THEN it is allowed untouched', async () => {
    const review = kosmosReview('u-8', 'Cluster', null, 'DELETE');
    const res = await request(app).post('/validate/kosmos').send(review).expect(200);
    expect(res.body.response).toEqual({ uid: 'u-8', allowed: true });
  });

  it.each<[string, string | object, RegExp]>([
    ['a body that is not JSON', '{"apiVersion":', /malformed AdmissionReview/],
    [
      'another apiVersion',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} },
      /apiVersion must be "admission.k8s.io\/v1"/,
    ],
    [
      'no request',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
      /request must be an object/,
    ],
    [
      'a request without uid',
      admissionReview({ kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' }),
      /request\.uid must be a non-empty string/,
    ],
    [
      'an unknown operation',
      admissionReview({ uid: 'x', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH' }),
      /request\.operation must be one of/,
    ],
    ['a JSON array', [1, 2, 3], /body must be a JSON AdmissionReview object/],
    ['a JSON string', '"hello"', /body must be a JSON AdmissionReview object/],
  ])(
    'GIVEN %s THEN the answer is HTTP 400 with the reason and the server keeps serving',
    async (_c, body, reason) => {
      const res = await request(app)
        .post('/validate/kosmos')
        .set('Content-Type', 'application/json')
        .send(typeof body === 'string' ? body : JSON.stringify(body))
        .expect(400);
      expect(res.body.message).toMatch(reason);
      await request(app).get('/healthz').expect(200);
    },
  );

  it('GIVEN a body over the size limit THEN the answer is 413 with the reason and the server keeps serving', async () => {
    const small = createWebhookHandler({
      context: { policies: sources, clusters: sources },
      logger: quiet,
      bodyLimitBytes: 1024,
    });
    const res = await request(small)
      .post('/mutate/pods')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ pad: 'x'.repeat(4096) }))
      .expect(413);
    expect(res.body.message).toBe('malformed AdmissionReview: body is larger than 1024 bytes');
    await request(small)
      .post('/mutate/pods')
      .send(podReview('after-413', pod('db')))
      .expect(200);
  });

  it('GIVEN a GET on a webhook path THEN the answer is 405 naming POST', async () => {
    const res = await request(app).get('/mutate/pods').expect(405);
    expect(res.headers['allow']).toBe('POST');
  });

  it('GIVEN a pod object of a shape no apiserver sends THEN it is allowed with a warning, not a crash', async () => {
    const res = await request(app)
      .post('/mutate/pods')
      .send(podReview('u-9', { spec: { tolerations: 'all' }, metadata: { labels: { app: 'burst' } } }))
      .expect(200);
    expect(res.body.response.allowed).toBe(true);
    expect(res.body.response.warnings[0]).toMatch(/not a pod/);
  });

  it('serves /healthz, /readyz and Prometheus /metrics with admission counters', async () => {
    await request(app).get('/healthz').expect(200, 'ok');
    await request(app).get('/readyz').expect(200, 'ok');
    const res = await request(app).get('/metrics').expect(200);
    expect(res.text).toContain(
      'kosmos_webhook_admission_requests_total{webhook="mutate-pods",result="patched"',
    );
    expect(res.text).toContain(
      'kosmos_webhook_admission_requests_total{webhook="validate-kosmos",result="malformed"',
    );
  });
});

describe('webhook HTTPS server', () => {
  let server: WebhookServer;
  beforeAll(async () => {
    server = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      policies: sources,
      clusters: sources,
      logger: quiet,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  function post(
    path: string,
    body: unknown,
    options: { minVersion?: 'TLSv1' | 'TLSv1.1'; maxVersion?: 'TLSv1' | 'TLSv1.1' } = {},
  ) {
    return new Promise<{ status: number; body: string; protocol: string | null }>((resolve, reject) => {
      const req = httpsRequest(
        `${server.url}${path}`,
        { method: 'POST', ca: server.caPem, headers: { 'content-type': 'application/json' }, ...options },
        (res) => {
          const protocol = (res.socket as TLSSocket).getProtocol();
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, protocol }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  it('GIVEN a client that trusts only the caBundle WHEN it calls 127.0.0.1 THEN the certificate verifies and the review is answered', async () => {
    const res = await post('/mutate/pods', podReview('tls-1', pod('burst-9', {}, { app: 'burst' })));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).response.uid).toBe('tls-1');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(res.protocol);
    expect(Buffer.from(server.caBundle, 'base64').toString()).toBe(server.caPem);
  });

  it('GIVEN a client limited to TLS 1.1 THEN the handshake is refused', async () => {
    await expect(post('/mutate/pods', {}, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })).rejects.toThrow();
  });
});
