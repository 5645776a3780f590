import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient, MAX_RETRY_AFTER_MS, retryAfterMs } from '../../../src/common/kube.js';
import { KubeApiError } from '../../../src/common/errors.js';

describe('retryAfterMs: which refusals the client sends again', () => {
  it('GIVEN 429 THEN it waits what Retry-After says, 1 s when it says nothing, at most the cap', () => {
    expect(retryAfterMs(429, '2', 0, 5)).toBe(2000);
    expect(retryAfterMs(429, undefined, 0, 5)).toBe(1000);
    expect(retryAfterMs(429, 'soon', 0, 5)).toBe(1000);
    expect(retryAfterMs(429, ['0'], 0, 5)).toBe(0);
    expect(retryAfterMs(429, '3600', 0, 5)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('GIVEN a 5xx THEN it is retried only when the server asked with Retry-After', () => {
    expect(retryAfterMs(503, '1', 0, 5)).toBe(1000);
    expect(retryAfterMs(503, undefined, 0, 5)).toBeUndefined();
    expect(retryAfterMs(500, undefined, 0, 5)).toBeUndefined();
  });

  it('GIVEN a refusal that says the request itself is wrong THEN it is never retried', () => {
    for (const status of [400, 401, 403, 404, 409, 410, 422]) expect(retryAfterMs(status, '1', 0, 5)).toBeUndefined();
  });

  it('GIVEN the retries used up THEN it gives up', () => {
    expect(retryAfterMs(429, '1', 5, 5)).toBeUndefined();
    expect(retryAfterMs(429, '1', 0, 0)).toBeUndefined();
  });
});

describe('KubeClient.request against a server that asks to be retried', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  const serve = async (answers: Array<{ status: number; retryAfter?: string }>) => {
    const seen: string[] = [];
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${body}`);
        const a = answers.shift() ?? { status: 200 };
        res.writeHead(a.status, {
          'content-type': 'application/json',
          ...(a.retryAfter !== undefined ? { 'retry-after': a.retryAfter } : {}),
        });
        res.end(
          a.status === 200
            ? JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'x' } })
            : JSON.stringify({ kind: 'Status', reason: 'TooManyRequests', message: 'storage is (re)initializing' }),
        );
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return { client: new KubeClient(kc), seen };
  };

  it('GIVEN two 429s with Retry-After 0 WHEN a create is sent THEN the same body goes again and the third answer is returned', async () => {
    const { client, seen } = await serve([
      { status: 429, retryAfter: '0' },
      { status: 429, retryAfter: '0' },
    ]);
    const got = await client.request<{ metadata: { name: string } }>('POST', '/api/v1/namespaces/d/configmaps', {
      metadata: { name: 'x' },
    });
    expect(got.metadata.name).toBe('x');
    expect(seen).toEqual(Array(3).fill('POST {"metadata":{"name":"x"}}'));
    client.close();
  });

  it('GIVEN a server that keeps answering 429 WHEN a get is sent with maxRetries 2 THEN it fails with the 429 after three tries', async () => {
    const { client, seen } = await serve(Array(5).fill({ status: 429, retryAfter: '0' }));
    const err = await client.request('GET', '/api/v1/nodes', undefined, { maxRetries: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(429);
    expect(String((err as Error).message)).toContain('storage is (re)initializing');
    expect(seen).toHaveLength(3);
    client.close();
  });

  it('GIVEN a 500 without Retry-After THEN it fails at once', async () => {
    const { client, seen } = await serve([{ status: 500 }]);
    await expect(client.request('GET', '/api/v1/nodes')).rejects.toBeInstanceOf(KubeApiError);
    expect(seen).toHaveLength(1);
    client.close();
  });
});
