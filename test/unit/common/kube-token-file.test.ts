import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeClient, loadKubeConfig } from '../../../src/common/kube.js';

/** A kubeconfig whose user authenticates with a token file, as an in-cluster kubeconfig does. */
function kubeconfig(server: string, userField: 'tokenFile' | 'token-file', tokenPath: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - name: c`,
    `    cluster: { server: '${server}', insecure-skip-tls-verify: true }`,
    'users:',
    '  - name: sa',
    '    user:',
    `      ${userField}: ${tokenPath}`,
    'contexts:',
    '  - name: c',
    '    context: { cluster: c, user: sa }',
    'current-context: c',
    '',
  ].join('\n');
}

describe("a kubeconfig user's token file", () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  const seen: Array<string | undefined> = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kosmos-token-file-'));
    seen.length = 0;
    server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NodeList', metadata: {}, items: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    vi.useRealTimers();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const field of ['tokenFile', 'token-file'] as const) {
    it(`GIVEN \`${field}\` (relative to the kubeconfig) THEN requests carry the file's token, and a rotated token after a minute`, async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      fs.writeFileSync(path.join(dir, 'token'), 'first-token');
      const file = path.join(dir, 'kubeconfig');
      fs.writeFileSync(file, kubeconfig(url, field, 'token'));
      const client = KubeClient.fromFile(file);
      try {
        await client.request('GET', '/api/v1/nodes');
        // WHEN the kubelet rotates the projected token
        fs.writeFileSync(path.join(dir, 'token'), 'second-token');
        await client.request('GET', '/api/v1/nodes');
        vi.setSystemTime(Date.now() + 61_000);
        await client.request('GET', '/api/v1/nodes');
        // THEN the old token is used until the minute is up, the new one after it
        expect(seen).toEqual(['Bearer first-token', 'Bearer first-token', 'Bearer second-token']);
      } finally {
        client.close();
      }
    });
  }

  it('GIVEN KUBECONFIG naming one such file and no path THEN it is honoured the same way', () => {
    fs.writeFileSync(path.join(dir, 'token'), 't');
    const file = path.join(dir, 'kubeconfig');
    fs.writeFileSync(file, kubeconfig(url, 'tokenFile', path.join(dir, 'token')));
    vi.stubEnv('KUBECONFIG', file);
    try {
      const user = loadKubeConfig().getCurrentUser();
      expect(user?.authProvider).toEqual({
        name: 'tokenFile',
        config: { tokenFile: path.join(dir, 'token') },
      });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('GIVEN a user with an inline token beside a token file THEN the inline token wins, as in client-go', async () => {
    fs.writeFileSync(path.join(dir, 'token'), 'from-file');
    const file = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      file,
      kubeconfig(url, 'tokenFile', 'token').replace(
        '      tokenFile: token',
        '      token: inline\n      tokenFile: token',
      ),
    );
    const client = KubeClient.fromFile(file);
    try {
      await client.request('GET', '/api/v1/nodes');
      expect(seen).toEqual(['Bearer inline']);
    } finally {
      client.close();
    }
  });
});
