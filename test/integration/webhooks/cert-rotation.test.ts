import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/logger.js';
import { CertRotator } from '../../../src/webhooks/cert-rotator.js';
import { FileCertStore, MemoryCertStore } from '../../../src/webhooks/cert-store.js';
import { LOOPBACK_IPS, certFacts, servingNames, signedBy } from '../../../src/webhooks/certificates.js';
import { startWebhookServer, type WebhookServer } from '../../../src/webhooks/server.js';

const quiet = createLogger('rotation-test', {}, () => {});
const review = (uid: string) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      object: { spec: { containers: [] } },
    },
  });

let server: WebhookServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** One review on a fresh TLS connection (so each one handshakes), trusting only the CA. */
function call(s: WebhookServer, uid: string): Promise<{ uid: unknown; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${s.url}/mutate/pods`,
      { method: 'POST', ca: s.caPem, agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          try {
            resolve({ uid: (JSON.parse(text) as { response: { uid: unknown } }).response.uid, serial });
          } catch (err) {
            reject(new Error(`HTTP ${res.statusCode}: ${text}`, { cause: err }));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(review(uid));
  });
}

describe('webhook certificate rotation', () => {
  it('GIVEN a serving certificate that lives 3 s WHEN clients keep calling THEN it is replaced in place several times and no call fails', async () => {
    server = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      logger: quiet,
      certValidityMs: 3000,
      certRenewBeforeMs: 2000,
      certCheckIntervalMs: 100,
    });
    const s = server;
    const serials = new Set<string>();
    const failures: string[] = [];
    let sent = 0;
    // Bounded by count, not time: four clients call until three certificates have been served.
    const MAX = 4000;
    async function client(id: number): Promise<void> {
      while (serials.size < 3 && sent < MAX) {
        const uid = `c${id}-${sent++}`;
        try {
          const r = await call(s, uid);
          if (r.uid !== uid) failures.push(`${uid}: answered ${String(r.uid)}`);
          serials.add(r.serial);
        } catch (err) {
          failures.push(`${uid}: ${(err as Error).message}`);
        }
      }
    }
    await Promise.all([0, 1, 2, 3].map(client));
    expect(failures).toEqual([]);
    expect(serials.size).toBeGreaterThanOrEqual(3);
    const rotations = (await s.metrics.rotations.get()).values[0]?.value ?? 0;
    expect(rotations).toBeGreaterThanOrEqual(2);
  });

  it('GIVEN certificates kept in a directory WHEN the server restarts THEN the CA and so the caBundle stay the same', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kosmos-webhook-certs-'));
    server = await startWebhookServer({ port: 0, host: '127.0.0.1', certDir: dir, logger: quiet });
    const first = server.caBundle;
    await server.close();
    server = await startWebhookServer({ port: 0, host: '127.0.0.1', certDir: dir, logger: quiet });
    expect(server.caBundle).toBe(first);
    expect((await call(server, 'after-restart')).uid).toBe('after-restart');
  });

  it('GIVEN a stored serving certificate lacking a required name THEN a new one is issued by the same CA at start', async () => {
    const store = new MemoryCertStore();
    await new CertRotator(store, { dnsNames: ['old-name'], ipAddresses: [], logger: quiet }).ensure();
    const before = await store.load();
    const names = servingNames();
    const bundle = await new CertRotator(store, {
      dnsNames: names,
      ipAddresses: LOOPBACK_IPS,
      logger: quiet,
    }).ensure();
    expect(bundle.ca).toEqual(before?.ca);
    expect(certFacts(bundle.serving.cert).dnsNames).toEqual([...names]);
    expect(certFacts(bundle.serving.cert).ipAddresses).toEqual([...LOOPBACK_IPS]);
    expect(signedBy(bundle.serving.cert, bundle.ca.cert)).toBe(true);
  });

  it('GIVEN files written by the store THEN keys are readable by the owner only', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kosmos-webhook-certs-'));
    await new CertRotator(new FileCertStore(dir), {
      dnsNames: ['a'],
      ipAddresses: [],
      logger: quiet,
    }).ensure();
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(dir, 'tls.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
  });
});
