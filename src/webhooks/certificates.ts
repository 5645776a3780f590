/**
 * The webhooks' own PKI, made with node-forge: a long-lived CA whose certificate is the
 * caBundle of the webhook configurations, and a short(er)-lived serving certificate signed
 * by it. Renewing only the serving certificate keeps the caBundle valid, so rotation needs
 * no change to any webhook configuration and no restart.
 */
import forge from 'node-forge';
import { DEFAULT_NAMESPACE } from '../api/constants.js';

export interface KeyPairPem {
  cert: string;
  key: string;
}

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

async function generateRsaKeyPair(): Promise<forge.pki.rsa.KeyPair> {
  // forge hands this to Node's native generator when it can, so it does not block the loop.
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits: 2048, workers: -1 }, (err, keys) =>
      err ? reject(err) : resolve(keys),
    );
  });
}

function serialNumber(): string {
  // Positive (leading bit clear) random 16-byte serial, as RFC 5280 asks.
  const bytes = forge.random.getBytesSync(16);
  const hex = forge.util.bytesToHex(bytes);
  return `${(Number.parseInt(hex.slice(0, 2), 16) & 0x7f).toString(16).padStart(2, '0')}${hex.slice(2)}`;
}

function validity(cert: forge.pki.Certificate, validityMs: number, now: number): void {
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + validityMs);
}

export async function createCa(
  commonName: string,
  validityMs: number,
  now = Date.now(),
): Promise<KeyPairPem> {
  const keys = await generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, validityMs, now);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

export async function issueServingCert(
  ca: KeyPairPem,
  options: ServingCertOptions,
  now = Date.now(),
): Promise<KeyPairPem> {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = await generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, options.validityMs, now);
  cert.setSubject([{ name: 'commonName', value: options.dnsNames[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...options.dnsNames.map((value) => ({ type: 2, value })),
        ...options.ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

export interface CertFacts {
  notAfter: Date;
  serial: string;
  dnsNames: string[];
  ipAddresses: string[];
}

export function certFacts(pem: string): CertFacts {
  const cert = forge.pki.certificateFromPem(pem);
  const san = cert.getExtension('subjectAltName') as {
    altNames?: { type: number; value?: string; ip?: string }[];
  } | null;
  const alt = san?.altNames ?? [];
  return {
    notAfter: cert.validity.notAfter,
    serial: cert.serialNumber,
    dnsNames: alt.filter((a) => a.type === 2).map((a) => a.value ?? ''),
    ipAddresses: alt.filter((a) => a.type === 7).map((a) => a.ip ?? ''),
  };
}

/** Whether `pem` was signed by the CA `caPem` (a stored pair may have been issued by an older CA). */
export function signedBy(pem: string, caPem: string): boolean {
  try {
    return forge.pki.certificateFromPem(caPem).verify(forge.pki.certificateFromPem(pem));
  } catch {
    return false;
  }
}

/** The caBundle field of a webhook configuration: base64 of the CA's PEM. */
export function caBundleOf(caPem: string): string {
  return Buffer.from(caPem).toString('base64');
}
