import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CertAndKey,
  certFacts,
  createCa,
  issueCertificate,
  newRsaKeyAsync,
  selfSignedServingCert,
  signedBy,
} from '../../../src/common/pki.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const servers: tls.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A TLS handshake to a server using `serving`, from a client trusting only `caPem`: 'ok' or the error code. */
async function handshake(serving: CertAndKey, caPem: string, servername?: string): Promise<string> {
  const server = tls.createServer({ cert: serving.cert, key: serving.key }, (s) => s.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return await new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: [caPem],
      ...(servername ? { servername } : {}),
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('ok');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('common PKI', () => {
  const validity = { validityMs: 30 * DAY_MS, backdateMs: 5 * 60 * 1000 };
  const ca = createCa({ commonName: 'test-ca', ...validity });
  const otherCa = createCa({ commonName: 'test-ca', ...validity });
  const serving = issueCertificate(ca, {
    commonName: 'kosmos-webhooks',
    dnsNames: ['kosmos-webhooks.kosmos-system.svc', 'localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    serverAuth: true,
    ...validity,
  });

  it('GIVEN a serving certificate for names and IPs THEN it verifies against its CA and carries those SANs', () => {
    const cert = new X509Certificate(serving.cert);
    const caCert = new X509Certificate(ca.cert);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('kosmos-webhooks.kosmos-system.svc')).toBe('kosmos-webhooks.kosmos-system.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkHost('elsewhere.example')).toBeUndefined();
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(certFacts(serving.cert)).toMatchObject({
      dnsNames: ['kosmos-webhooks.kosmos-system.svc', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    expect(signedBy(serving.cert, ca.cert)).toBe(true);
  });

  it('GIVEN a certificate from one CA THEN a client trusting another CA rejects it', async () => {
    expect(new X509Certificate(serving.cert).verify(new X509Certificate(otherCa.cert).publicKey)).toBe(false);
    expect(signedBy(serving.cert, otherCa.cert)).toBe(false);
    expect(await handshake(serving, otherCa.cert)).toMatch(
      /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
    );
  });

  it('GIVEN a client trusting the CA WHEN it connects by a listed name or IP THEN the handshake succeeds', async () => {
    expect(await handshake(serving, ca.cert)).toBe('ok'); // by IP 127.0.0.1
    expect(await handshake(serving, ca.cert, 'localhost')).toBe('ok');
    expect(await handshake(serving, ca.cert, 'not-listed.example')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('GIVEN a validity and a backdate THEN notBefore and notAfter follow them from `now`', () => {
    const now = Date.UTC(2030, 0, 1);
    const pair = createCa({ commonName: 'dated', validityMs: 10 * DAY_MS, backdateMs: 60_000, now });
    const cert = new X509Certificate(pair.cert);
    expect(new Date(cert.validFrom).getTime()).toBe(now - 60_000);
    expect(new Date(cert.validTo).getTime()).toBe(now + 10 * DAY_MS);
    expect(certFacts(pair.cert).notAfter.getTime()).toBe(now + 10 * DAY_MS);
  });

  it('GIVEN a client certificate with organizations and a key made off the loop THEN it names them and says clientAuth', async () => {
    const key = await newRsaKeyAsync();
    const client = issueCertificate(ca, {
      commonName: 'kosmos-admin',
      organizations: ['system:masters'],
      clientAuth: true,
      key,
      ...validity,
    });
    const cert = new X509Certificate(client.cert);
    expect(client.key).toBe(key);
    expect(cert.subject).toBe('CN=kosmos-admin\nO=system:masters');
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.subjectAltName).toBeUndefined();
    expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);
  });

  it('GIVEN hosts mixing names and IPs THEN a self-signed serving certificate lists each under its kind for a year', () => {
    const pair = selfSignedServingCert('kosmos-scheduler-extender', ['localhost', '127.0.0.1', '::1']);
    const cert = new X509Certificate(pair.cert);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    const days = (new Date(cert.validTo).getTime() - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThanOrEqual(365);
  });
});
