/**
 * Serving certificates for `enableHTTPS: true`. kube-scheduler skips verification when no
 * CA is configured, so a generated self-signed certificate is enough for a sandbox; with a
 * CA in tlsConfig, pass files signed by it.
 */
import { readFileSync } from 'node:fs';
import forge from 'node-forge';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export type TlsOptions = { certFile: string; keyFile: string } | { generate: true; hosts?: string[] };

export function selfSigned(hosts: string[] = ['localhost', '127.0.0.1']): TlsMaterial {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = Date.now().toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const attrs = [{ name: 'commonName', value: 'kosmos-scheduler-extender' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((h) =>
        /^[\d.]+$/.test(h) || h.includes(':') ? { type: 7, ip: h } : { type: 2, value: h },
      ),
    },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

export function loadTls(options: TlsOptions): TlsMaterial {
  if ('generate' in options) return selfSigned(options.hosts);
  try {
    return { cert: readFileSync(options.certFile, 'utf8'), key: readFileSync(options.keyFile, 'utf8') };
  } catch (err) {
    throw new Error(
      `reading TLS certificate ${options.certFile} / key ${options.keyFile}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
