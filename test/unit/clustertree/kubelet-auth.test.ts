import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  kubeletRequestAttributes,
  readClientCa,
  userFromCertificate,
} from '../../../src/clustertree/node-server/auth.js';

describe("the virtual nodes' kubelet API maps a request to the attributes a kubelet authorizes", () => {
  it.each([
    ['kubectl logs', 'GET', '/containerLogs/shop/web-1/main', 'get', ['proxy']],
    ['kubectl exec over SPDY', 'POST', '/exec/shop/web-1/main', 'create', ['proxy']],
    ['kubectl exec over WebSocket', 'GET', '/exec/shop/web-1/main', 'get', ['proxy']],
    ['kubectl attach', 'POST', '/attach/shop/web-1/main', 'create', ['proxy']],
    ['node logs', 'GET', '/logs/messages', 'get', ['log']],
    ['stats', 'GET', '/stats/summary', 'get', ['stats']],
    ['metrics', 'GET', '/metrics/cadvisor', 'get', ['metrics']],
    ['metrics, exactly', 'GET', '/metrics', 'get', ['metrics']],
    ['/metricsfoo is not /metrics', 'GET', '/metricsfoo', 'get', ['proxy']],
    ['pods (fine-grained, then proxy)', 'GET', '/pods', 'get', ['pods', 'proxy']],
    ['healthz (fine-grained, then proxy)', 'GET', '/healthz', 'get', ['healthz', 'proxy']],
    ['configz', 'GET', '/configz', 'get', ['configz', 'proxy']],
    ['checkpoint', 'POST', '/checkpoint/shop/web-1/main', 'create', ['checkpoint']],
    ['flagz counts as configz', 'GET', '/flagz', 'get', ['configz']],
    ['DELETE', 'DELETE', '/containerLogs/a/b/c', 'delete', ['proxy']],
    ['an unknown method has no verb', 'OPTIONS', '/exec/a/b/c', '', ['proxy']],
  ])('%s: %s %s → %s nodes/%j', (_name, method, path, verb, subresources) => {
    expect(kubeletRequestAttributes(method, path)).toEqual({ verb, subresources });
  });
});

describe('a verified client certificate names a user', () => {
  const clientAuth = '1.3.6.1.5.5.7.3.2';
  const serverAuth = '1.3.6.1.5.5.7.3.1';
  it.each([
    [
      'CN is the user, O the groups, plus system:authenticated',
      { subject: { CN: 'kube-apiserver-kubelet-client', O: 'system:masters' }, ext_key_usage: [clientAuth] },
      { name: 'kube-apiserver-kubelet-client', groups: ['system:masters', 'system:authenticated'] },
    ],
    [
      'several organizations are several groups',
      { subject: { CN: 'alice', O: ['dev', 'ops'] } },
      { name: 'alice', groups: ['dev', 'ops', 'system:authenticated'] },
    ],
    [
      'no organization: only system:authenticated',
      { subject: { CN: 'bob' } },
      { name: 'bob', groups: ['system:authenticated'] },
    ],
    [
      'a certificate only for servers authenticates nobody',
      { subject: { CN: 'web' }, ext_key_usage: [serverAuth] },
      undefined,
    ],
    ['no CommonName: nobody', { subject: { O: 'dev' } }, undefined],
  ])('%s', (_name, cert, user) => {
    expect(userFromCertificate(cert as Parameters<typeof userFromCertificate>[0])).toEqual(user);
  });
});

describe('--client-ca-file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kosmos-ca-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('GIVEN a file that does not exist THEN the error names the flag and the file', () => {
    expect(() => readClientCa(join(dir, 'missing.crt'))).toThrow(
      /^--client-ca-file: cannot read .*missing\.crt/,
    );
  });

  it('GIVEN a file without a PEM certificate THEN the error names the flag and says why', () => {
    const f = join(dir, 'key.pem');
    writeFileSync(f, '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    expect(() => readClientCa(f)).toThrow(
      `--client-ca-file: Invalid value: "${f}": holds no PEM certificate`,
    );
  });
});
