import { describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE } from '../../../src/api/constants.js';
import { kindInfo } from '../../../src/api/kinds.js';
import { renderWebhookConfigurations } from '../../../src/webhooks/configurations.js';
import { WEBHOOK_PATHS } from '../../../src/webhooks/server.js';

const service = renderWebhookConfigurations({
  target: { service: { name: 'kosmos-webhooks', namespace: DEFAULT_NAMESPACE } },
  caBundle: 'Q0E=',
});
const sandbox = renderWebhookConfigurations({ target: { url: 'https://127.0.0.1:9443/' }, caBundle: 'Q0E=' });
const all = [...service.mutating.webhooks, ...service.validating.webhooks];

describe('webhook configurations', () => {
  it('GIVEN a sandbox URL THEN every webhook calls that URL with its own path and the CA bundle', () => {
    const urls = [...sandbox.mutating.webhooks, ...sandbox.validating.webhooks].map((w) => w.clientConfig);
    expect(urls).toEqual([
      { url: `https://127.0.0.1:9443${WEBHOOK_PATHS['mutate-pods']}`, caBundle: 'Q0E=' },
      { url: `https://127.0.0.1:9443${WEBHOOK_PATHS['validate-kosmos']}`, caBundle: 'Q0E=' },
      { url: `https://127.0.0.1:9443${WEBHOOK_PATHS['validate-pods']}`, caBundle: 'Q0E=' },
    ]);
  });

  it('GIVEN a Service THEN every webhook calls the Service on 443 with the CA bundle', () => {
    for (const w of all) {
      expect(w.clientConfig.service).toMatchObject({
        name: 'kosmos-webhooks',
        namespace: DEFAULT_NAMESPACE,
        port: 443,
      });
      expect(w.clientConfig.caBundle).toBe('Q0E=');
    }
  });

  it('every webhook has no side effects, speaks v1, answers well under 10 s and skips kube-system and kosmos-system', () => {
    for (const w of all) {
      expect(w['sideEffects']).toBe('None');
      expect(w['admissionReviewVersions']).toEqual(['v1']);
      expect(w.timeoutSeconds).toBeLessThanOrEqual(5);
      const exprs = (w['namespaceSelector'] as { matchExpressions: { operator: string; values: string[] }[] })
        .matchExpressions;
      expect(exprs[0]?.operator).toBe('NotIn');
      expect(exprs[0]?.values).toEqual(['kube-system', DEFAULT_NAMESPACE]);
    }
  });

  it('pod webhooks fail open and Kosmos object validation fails closed', () => {
    const policy = Object.fromEntries(all.map((w) => [w.name, w.failurePolicy]));
    expect(policy).toEqual({
      'pods.mutate.kosmos.io': 'Ignore',
      'pods.validate.kosmos.io': 'Ignore',
      'objects.validate.kosmos.io': 'Fail',
    });
    expect(service.mutating.webhooks[0]?.['reinvocationPolicy']).toBe('IfNeeded');
  });

  it('every Kosmos kind a user writes is validated', () => {
    const rules = service.validating.webhooks[0]?.['rules'] as { apiGroups: string[]; resources: string[] }[];
    const kinds = [
      'Cluster',
      'DistributionPolicy',
      'ClusterDistributionPolicy',
      'WorkloadPolicy',
      'PodConvertPolicy',
      'ClusterPodConvertPolicy',
    ] as const;
    expect(rules[0]?.resources.sort()).toEqual(kinds.map((k) => kindInfo(k).plural).sort());
  });

  it('GIVEN a timeout outside 1-30 s THEN rendering refuses it', () => {
    expect(() =>
      renderWebhookConfigurations({ target: { url: 'https://x' }, caBundle: '', timeoutSeconds: 31 }),
    ).toThrow(/between 1 and 30/);
  });
});
