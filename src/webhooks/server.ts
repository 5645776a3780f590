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
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
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
  /** Largest body accepted; an AdmissionReview of an update carries two objects of up to ~1.5 MiB each. */
  bodyLimit?: string;
}

function failureAnswer(webhook: WebhookName, uid: string, err: unknown): AdmissionResponse {
  const message = `kosmos webhook ${webhook} failed: ${err instanceof Error ? err.message : String(err)}`;
  if (webhook === 'validate-kosmos') {
    return { uid, allowed: false, status: { code: 500, reason: 'InternalError', message } };
  }
  return allow(uid, [message]);
}

/** The express app alone (no TLS), so tests can drive it with supertest. */
export function createWebhookApp(options: WebhookAppOptions): Express {
  const metrics = options.metrics ?? createWebhookMetrics();
  const log = options.logger ?? createLogger('webhooks');
  const app = express();
  app.disable('x-powered-by');
  app.use(
    observabilityRouter(metrics.registry, [
      { name: 'policies', check: () => options.context.policies.synced() },
      { name: 'clusters', check: () => options.context.clusters.synced() },
      { name: 'certificates', check: () => options.ready?.() ?? true },
    ]),
  );
  // Parse whatever the content type says: a wrong header must still get a reasoned 400.
  const json = express.json({ limit: options.bodyLimit ?? '8mb', type: () => true, strict: false });

  for (const [webhook, path] of Object.entries(WEBHOOK_PATHS) as [WebhookName, string][]) {
    const handle = WEBHOOKS[webhook];
    app.post(path, json, (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const parsed = parseAdmissionReview(req.body);
      if (typeof parsed === 'string') {
        metrics.requests.inc({ webhook, result: 'malformed' });
        log.warn('malformed AdmissionReview', { webhook, reason: parsed });
        res.status(400).json({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'BadRequest',
          code: 400,
          message: `malformed AdmissionReview: ${parsed}`,
        });
        return;
      }
      let response: AdmissionResponse;
      let result: string;
      try {
        const decision = handle(parsed, options.context);
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
      res.json(review(response));
    });
    app.all(path, (_req, res) => {
      res
        .status(405)
        .set('Allow', 'POST')
        .json({
          kind: 'Status',
          status: 'Failure',
          reason: 'MethodNotAllowed',
          code: 405,
          message: `${path} accepts POST AdmissionReviews only`,
        });
    });
  }

  // Body-parser failures (bad JSON, too large) carry their 4xx status; keep it and say why.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = err as { status?: number; type?: string; message?: string };
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 500;
    if (status === 500) log.error('unexpected server error', errorFields(err));
    const reason = status === 413 ? 'RequestEntityTooLarge' : status === 500 ? 'InternalError' : 'BadRequest';
    metrics.requests.inc({ webhook: 'none', result: status === 500 ? 'error' : 'malformed' });
    res.status(status).json({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason,
      code: status,
      message: `malformed AdmissionReview: ${e.message ?? String(err)}`,
    });
  });
  return app;
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
  const context: AdmissionContext = {
    policies: options.policies ?? empty,
    clusters: options.clusters ?? empty,
  };
  if (options.schedulerName !== undefined) context.schedulerName = options.schedulerName;
  const app = createWebhookApp({ context, metrics, logger: log, ready: () => true });

  const server = createServer(tlsOptions(bundle), app);
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
    close: () =>
      new Promise<void>((resolve, reject) => {
        rotator.stop();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
