/**
 * The Mutating- and ValidatingWebhookConfiguration objects, rendered from the commented
 * templates in deploy/webhooks/ (the one place their failure policies are chosen and
 * explained) with the two install-time facts filled in: where the webhook is (a Service in
 * a real install, a URL such as https://127.0.0.1:<port> in the sandbox) and the CA bundle.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { KosmosError } from '../common/errors.js';

export interface ServiceReference {
  name: string;
  namespace: string;
  port?: number;
}

/** Where the apiserver reaches the webhook: `url` is the server's base URL, paths are appended. */
export type WebhookTarget = { url: string } | { service: ServiceReference };

interface ClientConfig {
  url?: string;
  service?: ServiceReference & { path?: string };
  caBundle?: string;
}

export interface WebhookEntry {
  name: string;
  clientConfig: ClientConfig;
  failurePolicy?: 'Ignore' | 'Fail';
  timeoutSeconds?: number;
  [field: string]: unknown;
}

export interface WebhookConfiguration {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
  metadata: { name: string; labels?: Record<string, string>; [field: string]: unknown };
  webhooks: WebhookEntry[];
}

export interface RenderOptions {
  target: WebhookTarget;
  /** base64 of the CA PEM (WebhookServer.caBundle). */
  caBundle: string;
  /** Override metadata.name, e.g. to register a second copy in a test. */
  name?: string;
  /** Override every timeoutSeconds (1-30), e.g. shorter in e2e. */
  timeoutSeconds?: number;
  /** Directory of the templates; default the repository's deploy/webhooks. */
  templatesDir?: string;
}

export const TEMPLATE_FILES = {
  mutating: 'mutating-webhook-configuration.yaml',
  validating: 'validating-webhook-configuration.yaml',
} as const;

/** deploy/webhooks, two levels up from both src/webhooks and dist/webhooks. */
export function defaultTemplatesDir(): string {
  return new URL('../../deploy/webhooks/', import.meta.url).pathname;
}

function loadTemplate(dir: string, file: string): WebhookConfiguration {
  const path = `${dir.replace(/\/$/, '')}/${file}`;
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new KosmosError(`reading webhook configuration template ${path}`, { cause: err });
  }
  const cfg = doc as WebhookConfiguration;
  if (!cfg || !Array.isArray(cfg.webhooks) || cfg.webhooks.some((w) => !w.clientConfig?.service?.path)) {
    throw new KosmosError(
      `webhook configuration template ${path} must list webhooks with clientConfig.service.path`,
    );
  }
  return cfg;
}

function render(cfg: WebhookConfiguration, options: RenderOptions): WebhookConfiguration {
  if (options.timeoutSeconds !== undefined && (options.timeoutSeconds < 1 || options.timeoutSeconds > 30)) {
    throw new KosmosError(`timeoutSeconds must be between 1 and 30, got ${options.timeoutSeconds}`);
  }
  const out = structuredClone(cfg);
  if (options.name) out.metadata.name = options.name;
  for (const w of out.webhooks) {
    const path = w.clientConfig.service?.path ?? '';
    if ('url' in options.target) {
      w.clientConfig = { url: `${options.target.url.replace(/\/$/, '')}${path}`, caBundle: options.caBundle };
    } else {
      const { name, namespace, port } = options.target.service;
      w.clientConfig = { service: { name, namespace, path, port: port ?? 443 }, caBundle: options.caBundle };
    }
    if (options.timeoutSeconds !== undefined) w.timeoutSeconds = options.timeoutSeconds;
  }
  return out;
}

export function renderWebhookConfigurations(options: RenderOptions): {
  mutating: WebhookConfiguration;
  validating: WebhookConfiguration;
} {
  const dir = options.templatesDir ?? defaultTemplatesDir();
  return {
    mutating: render(loadTemplate(dir, TEMPLATE_FILES.mutating), options),
    validating: render(loadTemplate(dir, TEMPLATE_FILES.validating), options),
  };
}
