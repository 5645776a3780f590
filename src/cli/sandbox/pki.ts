/**
 * The sandbox's certificates: one CA per sandbox, serving and client certificates issued
 * by it (src/common/pki.ts makes them).
 */
import { generateKeyPairSync } from 'node:crypto';
import * as pki from '../../common/pki.js';

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CertRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ips?: string[];
  server?: boolean;
  client?: boolean;
  days?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Tolerate an hour of clock skew between the sandbox's processes and its clients. */
const BACKDATE_MS = 60 * 60 * 1000;

const toKeyPair = ({ cert, key }: pki.CertAndKey): KeyPair => ({ certPem: cert, keyPem: key });

export function createCA(commonName: string, days = 3650): KeyPair {
  return toKeyPair(pki.createCa({ commonName, validityMs: days * DAY_MS, backdateMs: BACKDATE_MS }));
}

export function issueCert(ca: KeyPair, req: CertRequest): KeyPair {
  return toKeyPair(
    pki.issueCertificate(
      { cert: ca.certPem, key: ca.keyPem },
      {
        commonName: req.commonName,
        organizations: req.organizations ?? [],
        dnsNames: req.dnsNames ?? [],
        ipAddresses: req.ips ?? [],
        serverAuth: req.server ?? false,
        clientAuth: req.client ?? false,
        validityMs: (req.days ?? 3650) * DAY_MS,
        backdateMs: BACKDATE_MS,
      },
    ),
  );
}

/** A bare RSA key pair (service-account token signing). */
export function newServiceAccountKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
