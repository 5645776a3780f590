/**
 * The webhook PKI of an install: a Secret the webhooks server loads (and rotates the serving
 * certificate in), created here when missing so the configurations can carry the CA from
 * the first apply. The CA is never replaced by a re-install: that would break the bundle.
 */
import type { KubeObject } from '../../api/meta.js';
import type { KubeClient } from '../../common/kube.js';
import {
  DAY_MS,
  createCa,
  issueServingCert,
  servingNames,
  LOOPBACK_IPS,
} from '../../webhooks/certificates.js';
import {
  LABEL_MANAGED_BY,
  LABEL_PART_OF,
  PART_OF,
  WEBHOOK_CERT_SECRET,
  WEBHOOK_SERVICE,
  FIELD_MANAGER,
  MANAGED_BY,
} from './values.js';

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export async function newWebhookCertSecret(namespace: string): Promise<SecretObject> {
  const ca = await createCa('kosmos-webhooks-ca', 10 * 365 * DAY_MS);
  const serving = await issueServingCert(ca, {
    dnsNames: servingNames(WEBHOOK_SERVICE, namespace),
    ipAddresses: LOOPBACK_IPS,
    validityMs: 90 * DAY_MS,
  });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: WEBHOOK_CERT_SECRET,
      namespace,
      labels: { [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: MANAGED_BY },
    },
    type: 'Opaque',
    data: {
      'ca.crt': b64(ca.cert),
      'ca.key': b64(ca.key),
      'tls.crt': b64(serving.cert),
      'tls.key': b64(serving.key),
    },
  } as SecretObject;
}

/** base64 CA PEM of the install's webhook Secret, creating the Secret unless this is a dry run. */
export async function ensureWebhookCa(
  client: KubeClient,
  namespace: string,
  dryRun: boolean,
): Promise<string> {
  const existing = await client.getOrUndefined<SecretObject>('v1', 'Secret', WEBHOOK_CERT_SECRET, namespace);
  const ca = existing?.data?.['ca.crt'];
  // data is base64 of the PEM, which is exactly what caBundle holds.
  if (ca) return ca;
  const fresh = await newWebhookCertSecret(namespace);
  if (!dryRun) await client.create(fresh, { fieldManager: FIELD_MANAGER });
  return fresh.data?.['ca.crt'] ?? '';
}
