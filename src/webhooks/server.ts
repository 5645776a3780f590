/**
 * The HTTPS adapter: AdmissionReviews in, AdmissionReviews out, on
 *   POST /mutate/pods  POST /validate/pods  POST /validate/kosmos
 * plus /healthz, /readyz, /metrics. A body that is not a well-formed review gets HTTP 400
 * with the reason; a well-formed one always gets HTTP 200 with an answer echoing its uid,
 * even when a handler throws (pods are then admitted, Kosmos objects refused, matching the
 * failure policies of deploy/webhooks).
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DEFAULT_NAMESPACE } from '../api/constants.js';
import { createLogger, errorFields, type Logger } from '../common/logger.js';
import { createRegistry, observabilityRouter } from '../common/observability.js';
import { WEBHOOKS, type AdmissionContext, type WebhookName } from './admission.js';
import { CertRotator } from './cert-rotator.js';
import { FileCertStore, MemoryCertStore, type CertStore } from './cert-store.js';
import {
  DEFAULT_SERVICE_NAME,
  LOOPBACK_IPS,
  caBundleOf,
  certFacts,
  servingNames,
  type CertBundle,
} from './certificates.js';
import { allow, parseAdmissionReview, review, type AdmissionResponse } from './review.js';
import { InformerSources } from './informer-sources.js';
import { InMemorySources, type ClusterSource, type PolicySource } from './sources.js';

export const WEBHOOK_PATHS: Record<WebhookName, string> = {
  'mutate-pods': '/mutate/pods',
  'validate-pods': '/validate/pods',
  'validate-kosmos': '/validate/kosmos',
};

export interface WebhookMetrics {
  registry: Registry;
  duration: Histogram<'webhook' | 'allowed'>;
  requests: Counter<'webhook' | 'result'>;
  certExpiry: Gauge;
  rotations: Counter;
}

export function createWebhookMetrics(registry: Registry = createRegistry('webhooks')): WebhookMetrics {
  return {
    registry,
    duration: new Histogram({
      name: 'kosmos_webhook_admission_duration_seconds',
      help: 'Time to decide one AdmissionReview, from parsed body to response.',
      labelNames: ['webhook', 'allowed'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'kosmos_webhook_admission_requests_total',
      help: 'AdmissionReviews by outcome: allowed, patched, denied, malformed (HTTP 400) or error (handler threw).',
      labelNames: ['webhook', 'result'],
      registers: [registry],
    }),
    certExpiry: new Gauge({
      name: 'kosmos_webhook_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate being served.',
      registers: [registry],
    }),
    rotations: new Counter({
      name: 'kosmos_webhook_certificate_rotations_total',
      help: 'Serving certificates swapped in without a restart.',
      registers: [registry],
    }),
  };
}

export interface WebhookAppOptions {
  context: AdmissionContext;
  metrics?: WebhookMetrics;
  logger?: Logger;
  /** Extra readiness condition (certificates loaded...). */
  ready?: () => boolean;
  /** Largest body accepted, in bytes; an AdmissionReview of an update carries two objects of up to ~1.5 MiB each. */
  bodyLimitBytes?: number;
}

function failureAnswer(webhook: WebhookName, uid: string, err: unknown): AdmissionResponse {
  const message = `kosmos webhook ${webhook} failed: ${err instanceof Error ? err.message : String(err)}`;
  if (webhook === 'validate-kosmos') {
    return { uid, allowed: false, status: { code: 500, reason: 'InternalError', message } };
  }
  return allow(uid, [message]);
}

function statusBody(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message };
}

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * The request handler alone (no TLS), so tests can drive it with supertest. Admission paths
 * are served by a bare node handler: they are the hot path (every pod creation in the
 * cluster) and express' routing, body parser and ETag hashing roughly doubled the CPU of a
 * review for nothing they need. Everything else (/healthz, /readyz, /metrics) goes to express.
 */
export function createWebhookHandler(options: WebhookAppOptions): RequestListener {
  const metrics = options.metrics ?? createWebhookMetrics();
  const log = options.logger ?? createLogger('webhooks');
  const limit = options.bodyLimitBytes ?? 8 * 2 ** 20;
  const app = express();
  app.disable('x-powered-by');
  app.use(
    observabilityRouter(metrics.registry, [
      { name: 'policies', check: () => options.context.policies.synced() },
      { name: 'clusters', check: () => options.context.clusters.synced() },
      { name: 'certificates', check: () => options.ready?.() ?? true },
    ]),
  );
  const routes = new Map((Object.entries(WEBHOOK_PATHS) as [WebhookName, string][]).map(([w, p]) => [p, w]));

  const malformed = (
    res: ServerResponse,
    webhook: WebhookName,
    code: number,
    reason: string,
    why: string,
  ) => {
    metrics.requests.inc({ webhook, result: 'malformed' });
    log.warn('malformed AdmissionReview', { webhook, reason: why });
    sendJson(res, code, statusBody(code, reason, `malformed AdmissionReview: ${why}`));
  };

  const answer = (res: ServerResponse, webhook: WebhookName, raw: string) => {
    const started = process.hrtime.bigint();
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (err) {
      malformed(res, webhook, 400, 'BadRequest', `body is not JSON: ${(err as Error).message}`);
      return;
    }
    const parsed = parseAdmissionReview(body);
    if (typeof parsed === 'string') {
      malformed(res, webhook, 400, 'BadRequest', parsed);
      return;
    }
    let response: AdmissionResponse;
    let result: string;
    try {
      const decision = WEBHOOKS[webhook](parsed, options.context);
      response = decision.response;
      result = !response.allowed ? 'denied' : response.patch ? 'patched' : 'allowed';
      if (!response.allowed) {
        log.info('denied', {
          webhook,
          uid: parsed.uid,
          kind: decision.subject,
          name: parsed.name,
          message: response.status?.message,
        });
      }
    } catch (err) {
      response = failureAnswer(webhook, parsed.uid, err);
      result = 'error';
      log.error('admission handler failed', { webhook, uid: parsed.uid, ...errorFields(err) });
    }
    metrics.requests.inc({ webhook, result });
    metrics.duration.observe(
      { webhook, allowed: String(response.allowed) },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    sendJson(res, 200, review(response));
  };

  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const webhook = routes.get(path);
    if (!webhook) {
      void app(req, res);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, statusBody(405, 'MethodNotAllowed', `${path} accepts POST AdmissionReviews only`), {
        Allow: 'POST',
      });
      return;
    }
    // Whatever the content type says: a wrong header must still get a reasoned answer.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit keep draining (so the client reads our answer) but stop buffering.
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      if (size > limit)
        malformed(res, webhook, 413, 'RequestEntityTooLarge', `body is larger than ${limit} bytes`);
      else answer(res, webhook, Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      log.warn('reading AdmissionReview failed', { webhook, ...errorFields(err) });
      res.destroy();
    });
  };
}

export interface WebhookServerOptions {
  /** Default 9443; 0 picks a free port (tests, sandbox). */
  port?: number;
  /** Default 0.0.0.0; the sandbox uses 127.0.0.1. */
  host?: string;
  /** Where certificates persist: a directory (files), or any CertStore (a Secret). Default: memory. */
  certDir?: string;
  certStore?: CertStore;
  /** Service the apiserver calls in a real install; its DNS names go into the certificate. */
  serviceName?: string;
  namespace?: string;
  /** More DNS names for the certificate (e.g. a node's hostname). */
  extraDnsNames?: string[];
  policies?: PolicySource;
  clusters?: ClusterSource;
  /**
   * Host cluster to watch policies and Clusters in, when `policies`/`clusters` are not given:
   * the server starts informers, waits for their first list and stops them on close().
   */
  kubeconfig?: KubeConfig;
  schedulerName?: string;
  certValidityMs?: number;
  certRenewBeforeMs?: number;
  certCheckIntervalMs?: number;
  logger?: Logger;
  metrics?: WebhookMetrics;
}

export interface WebhookServer {
  /** https://<host>:<port>, with 127.0.0.1 when listening on every address. */
  url: string;
  port: number;
  /** base64 of the CA PEM, for webhooks[].clientConfig.caBundle. */
  caBundle: string;
  caPem: string;
  certificates: CertRotator;
  metrics: WebhookMetrics;
  server: Server;
  close(): Promise<void>;
}

function tlsOptions(bundle: CertBundle): SecureContextOptions {
  return { key: bundle.serving.key, cert: bundle.serving.cert, minVersion: 'TLSv1.2' };
}

export async function startWebhookServer(options: WebhookServerOptions = {}): Promise<WebhookServer> {
  const log = options.logger ?? createLogger('webhooks');
  const metrics = options.metrics ?? createWebhookMetrics();
  const store =
    options.certStore ?? (options.certDir ? new FileCertStore(options.certDir) : new MemoryCertStore());
  const rotator = new CertRotator(store, {
    dnsNames: [
      ...servingNames(options.serviceName ?? DEFAULT_SERVICE_NAME, options.namespace ?? DEFAULT_NAMESPACE),
      ...(options.extraDnsNames ?? []),
    ],
    ipAddresses: LOOPBACK_IPS,
    ...(options.certValidityMs === undefined ? {} : { validityMs: options.certValidityMs }),
    ...(options.certRenewBeforeMs === undefined ? {} : { renewBeforeMs: options.certRenewBeforeMs }),
    ...(options.certCheckIntervalMs === undefined ? {} : { checkIntervalMs: options.certCheckIntervalMs }),
    logger: log,
  });
  const bundle = await rotator.ensure();
  metrics.certExpiry.set(certFacts(bundle.serving.cert).notAfter.getTime() / 1000);

  const empty = new InMemorySources();
  let informers: InformerSources | undefined;
  if (options.kubeconfig && (!options.policies || !options.clusters)) {
    informers = new InformerSources(options.kubeconfig, log);
    await informers.start();
  }
  const context: AdmissionContext = {
    policies: options.policies ?? informers ?? empty,
    clusters: options.clusters ?? informers ?? empty,
  };
  if (options.schedulerName !== undefined) context.schedulerName = options.schedulerName;
  const handler = createWebhookHandler({ context, metrics, logger: log, ready: () => true });

  const server = createServer(tlsOptions(bundle), handler);
  // The apiserver keeps connections idle for up to 90 s; closing them sooner races its
  // reuse and turns into failed calls, which fail closed for Kosmos objects.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 15_000;
  server.requestTimeout = 15_000;
  rotator.onRotate((next) => {
    server.setSecureContext(tlsOptions(next));
    metrics.rotations.inc();
    metrics.certExpiry.set(certFacts(next.serving.cert).notAfter.getTime() / 1000);
  });
  rotator.start();

  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9443, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  log.info('webhook server listening', { host, port, certificates: store.description });

  return {
    url: `https://${urlHost}:${port}`,
    port,
    caBundle: caBundleOf(bundle.ca.cert),
    caPem: bundle.ca.cert,
    certificates: rotator,
    metrics,
    server,
    close: async () => {
      rotator.stop();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      await informers?.stop();
    },
  };
}
