/**
 * Serving certificates for `enableHTTPS: true`. kube-scheduler skips verification when no
 * CA is configured, so a generated self-signed certificate is enough for a sandbox; with a
 * CA in tlsConfig, pass files signed by it.
 */
import { readFileSync } from 'node:fs';
import { selfSignedServingCert } from '../common/pki.js';
import { UserError } from '../common/errors.js';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export type TlsOptions = { certFile: string; keyFile: string } | { generate: true; hosts?: string[] };

export function selfSigned(hosts: string[] = ['localhost', '127.0.0.1']): TlsMaterial {
  return selfSignedServingCert('kosmos-scheduler-extender', hosts);
}

export function loadTls(options: TlsOptions): TlsMaterial {
  if ('generate' in options) return selfSigned(options.hosts);
  try {
    return { cert: readFileSync(options.certFile, 'utf8'), key: readFileSync(options.keyFile, 'utf8') };
  } catch (err) {
    throw new UserError(
      `reading TLS certificate ${options.certFile} / key ${options.keyFile}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
