import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../../src/api/kinds.js';
import type { Node, Pod } from '../../../src/api/core.js';
import { createLogger } from '../../../src/common/logger.js';
import type { ExtenderCache } from '../../../src/extender/cache.js';
import { LeafSources } from '../../../src/extender/informers.js';

/** A leaf apiserver that accepts one bearer token at a time and lists the nodes it is given. */
function leafServer() {
  const state = { token: 'old', nodes: ['n1', 'n2'], seen: [] as string[] };
  const watches = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    state.seen.push(
      `${req.headers.authorization} ${url.pathname}${url.searchParams.has('watch') ? ' watch' : ''}`,
    );
    if (req.headers.authorization !== `Bearer ${state.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized', code: 401 }));
      return;
    }
    if (url.searchParams.has('watch')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      watches.add(res);
      res.on('close', () => watches.delete(res));
      return;
    }
    const items =
      url.pathname === '/api/v1/nodes'
        ? state.nodes.map((name) => ({ kind: 'Node', metadata: { name, uid: name, resourceVersion: '1' } }))
        : [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '1' }, items }));
  });
  return {
    state,
    async listen(): Promise<string> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const w of watches) w.destroy();
        server.close(() => r());
      }),
  };
}

const kubeconfig = (server: string, token: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: leaf, cluster: {server: '${server}', insecure-skip-tls-verify: true}}]`,
    `users: [{name: u, user: {token: ${token}}}]`,
    'contexts: [{name: leaf, context: {cluster: leaf, user: u}}]',
    'current-context: leaf',
    '',
  ].join('\n');

/** The part of the cache the leaf watches feed: which member nodes each leaf has. */
function recordingCache() {
  const nodes = new Map<string, Set<string>>();
  const of = (c: string) => nodes.get(c) ?? nodes.set(c, new Set()).get(c)!;
  const cache = {
    upsertMemberNode: (c: string, n: Node) => of(c).add(n.metadata?.name ?? ''),
    deleteMemberNode: (c: string, name: string) => of(c).delete(name),
    upsertMemberPod: (_c: string, _p: Pod) => undefined,
    deleteMemberPod: (_c: string, _p: Pod) => undefined,
  };
  return { cache: cache as unknown as ExtenderCache, nodes: (c: string) => [...of(c)].sort() };
}

const cluster = {
  apiVersion: 'kosmos.io/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'leaf-1' },
  spec: {},
} as Cluster;

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the extender's leaf watches and a rotated kubeconfig Secret", () => {
  let leaves: LeafSources | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    leaves?.stopAll();
    await close?.();
  });

  it("GIVEN a leaf watched with its Secret's credentials WHEN the Secret is rotated and the old token revoked THEN the next re-read watches with the new token and the cache follows the leaf", async () => {
    const leaf = leafServer();
    close = leaf.close;
    const url = await leaf.listen();
    let secret = kubeconfig(url, 'old');
    const { cache, nodes } = recordingCache();
    leaves = new LeafSources(
      cache,
      createLogger('test', {}, () => undefined),
      () => Promise.resolve(secret),
      0,
    );

    await leaves.start(cluster);
    await until('both member nodes cached', () => nodes('leaf-1').length === 2);
    const firstDigest = leaves.watched().get('leaf-1');

    // WHEN nothing changed, a re-read keeps the running watch
    const before = leaf.state.seen.length;
    await leaves.recheck();
    expect(leaves.watched().get('leaf-1')).toBe(firstDigest);
    expect(leaf.state.seen.slice(before).filter((s) => !s.endsWith(' watch'))).toEqual([]);

    // WHEN the Secret holds a new token, the old one is revoked, and n2 went meanwhile
    secret = kubeconfig(url, 'new');
    leaf.state.token = 'new';
    leaf.state.nodes = ['n1'];
    const rotatedAt = leaf.state.seen.length;
    await leaves.recheck();

    // THEN the watches use the new token, and the node the old watch knew but the leaf no longer has is gone
    expect(leaves.watched().get('leaf-1')).not.toBe(firstDigest);
    await until('n2 forgotten', () => nodes('leaf-1').join() === 'n1');
    await until('the new watch lists', () =>
      leaf.state.seen.slice(rotatedAt).some((s) => s === 'Bearer new /api/v1/nodes'),
    );
    expect(leaf.state.seen.slice(rotatedAt).filter((s) => s.startsWith('Bearer old'))).toEqual([]);
  });

  it('GIVEN the Secret cannot be read for a while THEN the running watch keeps going with the credentials it has', async () => {
    const leaf = leafServer();
    close = leaf.close;
    const url = await leaf.listen();
    let fail = false;
    const { cache, nodes } = recordingCache();
    leaves = new LeafSources(
      cache,
      createLogger('test', {}, () => undefined),
      () =>
        fail
          ? Promise.reject(new Error('Secret kosmos-system/leaf-1 not found'))
          : Promise.resolve(kubeconfig(url, 'old')),
      0,
    );
    await leaves.start(cluster);
    await until('both member nodes cached', () => nodes('leaf-1').length === 2);
    const digest = leaves.watched().get('leaf-1');
    fail = true;
    await leaves.recheck();
    expect(leaves.watched().get('leaf-1')).toBe(digest);
    expect(nodes('leaf-1')).toEqual(['n1', 'n2']);
  });
});
