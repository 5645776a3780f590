/**
 * The webhooks' own PKI (made by src/common/pki.ts): a long-lived CA whose certificate is the
 * caBundle of the webhook configurations, and a short(er)-lived serving certificate signed
 * by it. Renewing only the serving certificate keeps the caBundle valid, so rotation needs
 * no change to any webhook configuration and no restart.
 */
import { DEFAULT_NAMESPACE } from '../api/constants.js';
import * as pki from '../common/pki.js';

export { certFacts, signedBy, type CertFacts } from '../common/pki.js';

export type KeyPairPem = pki.CertAndKey;

/** What a CertStore persists: the CA (to sign renewals) and the current serving pair. */
export interface CertBundle {
  ca: KeyPairPem;
  serving: KeyPairPem;
}

export interface ServingCertOptions {
  /** DNS subject alternative names (the Service's names, localhost). */
  dnsNames: readonly string[];
  /** IP subject alternative names (loopback for the sandbox). */
  ipAddresses: readonly string[];
  validityMs: number;
}

export const DEFAULT_SERVICE_NAME = 'kosmos-webhooks';
export const DAY_MS = 24 * 60 * 60 * 1000;
/** Tolerate this much clock skew between the webhook and the apiserver. */
const BACKDATE_MS = 5 * 60 * 1000;

/** Every name the apiserver may use for the Service, plus loopback for the sandbox and probes. */
export function servingNames(
  service = DEFAULT_SERVICE_NAME,
  namespace = DEFAULT_NAMESPACE,
): ServingCertOptions['dnsNames'] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
    'localhost',
  ];
}
export const LOOPBACK_IPS: readonly string[] = ['127.0.0.1', '::1'];

export async function createCa(
  commonName: string,
  validityMs: number,
  now = Date.now(),
): Promise<KeyPairPem> {
  return pki.createCa({
    commonName,
    validityMs,
    backdateMs: BACKDATE_MS,
    now,
    key: await pki.newRsaKeyAsync(),
  });
}

export async function issueServingCert(
  ca: KeyPairPem,
  options: ServingCertOptions,
  now = Date.now(),
): Promise<KeyPairPem> {
  return pki.issueCertificate(ca, {
    commonName: options.dnsNames[0] ?? 'localhost',
    dnsNames: options.dnsNames,
    ipAddresses: options.ipAddresses,
    serverAuth: true,
    validityMs: options.validityMs,
    backdateMs: BACKDATE_MS,
    now,
    key: await pki.newRsaKeyAsync(),
  });
}

/** The caBundle field of a webhook configuration: base64 of the CA's PEM. */
export function caBundleOf(caPem: string): string {
  return Buffer.from(caPem).toString('base64');
}
