/**
 * X.509 certificates for Kosmos' own TLS (sandbox apiservers, webhooks, extender, virtual
 * kubelets): RSA 2048 keys, a self-signed CA, certificates it issues, and self-signed
 * serving certificates. node-forge builds and signs the certificates; keys come from
 * node:crypto, whose native generator is always used (forge's pure-JS fallback takes
 * seconds per key on this class of machine). Keys are PKCS#1 PEM.
 */
import { generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

/** A certificate and its private key, both PEM. */
export interface CertAndKey {
  cert: string;
  key: string;
}

export interface Validity {
  validityMs: number;
  /** notBefore is this far before `now`, for clock skew between the two ends. */
  backdateMs: number;
  now?: number;
}

export interface CaRequest extends Validity {
  commonName: string;
  /** The CA's private key (PEM); a new one when absent. */
  key?: string;
}

export interface CertRequest extends Validity {
  commonName: string;
  organizations?: readonly string[];
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  serverAuth?: boolean;
  clientAuth?: boolean;
  /** The certificate's private key (PEM); a new one when absent. */
  key?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

const RSA_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
} as const;

/** A new RSA private key, PEM. Blocks for a fraction of a second. */
export function newRsaKey(): string {
  return generateKeyPairSync('rsa', RSA_OPTIONS).privateKey;
}

/** A new RSA private key, PEM, made off the event loop (for servers that rotate certificates). */
export async function newRsaKeyAsync(): Promise<string> {
  return (await promisify(generateKeyPair)('rsa', RSA_OPTIONS)).privateKey;
}

function splitHosts(hosts: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  return {
    dnsNames: hosts.filter((h) => isIP(h) === 0),
    ipAddresses: hosts.filter((h) => isIP(h) !== 0),
  };
}

function keyPair(pem: string): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const privateKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

function serialNumber(): string {
  // Positive random 16-byte serial, as RFC 5280 asks: a leading 1 bit would read as negative in DER.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function newCertificate(publicKey: forge.pki.rsa.PublicKey, v: Validity): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  const now = v.now ?? Date.now();
  cert.validity.notBefore = new Date(now - v.backdateMs);
  cert.validity.notAfter = new Date(now + v.validityMs);
  return cert;
}

function leafExtensions(
  req: Pick<CertRequest, 'dnsNames' | 'ipAddresses' | 'serverAuth' | 'clientAuth'>,
): object[] {
  const altNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
  ];
  if (req.serverAuth || req.clientAuth)
    extensions.push({ name: 'extKeyUsage', serverAuth: !!req.serverAuth, clientAuth: !!req.clientAuth });
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  return extensions;
}

function signedByItself(commonName: string, v: Validity, extensions: object[], key: string): CertAndKey {
  const { privateKey, publicKey } = keyPair(key);
  const cert = newCertificate(publicKey, v);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions(extensions);
  cert.sign(privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

/** A self-signed CA certificate, for signing with `issueCertificate`. */
export function createCa(req: CaRequest): CertAndKey {
  const extensions = [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  return signedByItself(req.commonName, req, extensions, req.key ?? newRsaKey());
}

/** A serving and/or client certificate signed by `ca`. */
export function issueCertificate(ca: CertAndKey, req: CertRequest): CertAndKey {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const key = req.key ?? newRsaKey();
  const cert = newCertificate(keyPair(key).publicKey, req);
  cert.setSubject([
    { name: 'commonName', value: req.commonName },
    ...(req.organizations ?? []).map((value) => ({ name: 'organizationName', value })),
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    ...leafExtensions(req),
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(keyPair(ca.key).privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

/**
 * A serving certificate signed by its own key, valid for a year, for servers whose clients
 * do not verify it (kube-scheduler without a CA, the apiserver calling a kubelet).
 * `hosts` mixes DNS names and IP addresses.
 */
export function selfSignedServingCert(commonName: string, hosts: readonly string[]): CertAndKey {
  const validity = { validityMs: 365 * DAY_MS, backdateMs: 60_000 };
  const extensions = leafExtensions({ ...splitHosts(hosts), serverAuth: true });
  return signedByItself(commonName, validity, extensions, newRsaKey());
}

export interface CertFacts {
  notAfter: Date;
  serial: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/** What rotation and status need to know of a certificate: its expiry, serial and SANs. */
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
