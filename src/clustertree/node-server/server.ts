/**
 * The kubelet API of the virtual nodes. The host apiserver serves `kubectl logs` for a pod
 * on a virtual node by calling this server (the node's address and kubelet port); it finds
 * the pod's leaf cluster from the pod's node and streams the leaf apiserver's log of the
 * same pod back, chunk by chunk, so `--follow` works.
 *
 * Every request is authenticated and authorized as a kubelet does it (auth.ts): a client
 * certificate from the CA given with --client-ca-file, then a SubjectAccessReview in the
 * host; 401 without one, 403 when the review says no. (Kosmos verifies certificates only when
 * given a CA, and authorizes nothing.)
 */
import https from 'node:https';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Pod } from '../../api/core.js';
import { isNotFound, type KubeClient } from '../../common/kube.js';
import { errorFields, type Logger } from '../../common/logger.js';
import { execQuery, proxyExec, rejectUpgrade } from './exec.js';
import { selfSignedKubeletCert } from './tls.js';
import type { KubeletAuth } from './auth.js';

export interface NodeServerDeps {
  host: KubeClient;
  auth: KubeletAuth;
  /** The leaf client for the cluster behind a host node, if it is a virtual node. */
  leafForNode: (nodeName: string) => KubeClient | undefined;
  log: Logger;
}

const LOG_PARAMS = [
  'tailLines',
  'follow',
  'limitBytes',
  'previous',
  'sinceSeconds',
  'sinceTime',
  'timestamps',
] as const;

function badRequest(res: http.ServerResponse, msg: string, status = 400): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(msg);
}

/** Validation as the kubelet does it: numbers are numbers, and at most one of the since* parameters. */
export function logQuery(search: URLSearchParams, container: string): Record<string, string> | string {
  const q: Record<string, string> = { container };
  for (const p of LOG_PARAMS) {
    const v = search.get(p);
    if (v === null || v === '') continue;
    if ((p === 'tailLines' || p === 'limitBytes' || p === 'sinceSeconds') && !/^\d+$/.test(v))
      return `${p}: must be a non-negative integer`;
    if (p === 'sinceTime' && Number.isNaN(Date.parse(v))) return 'sinceTime: must be an RFC 3339 time';
    q[p] = v;
  }
  if (q['sinceSeconds'] && q['sinceTime']) return 'at most one of sinceSeconds or sinceTime may be specified';
  return q;
}

async function streamFrom(
  client: KubeClient,
  path: string,
  query: Record<string, string>,
): Promise<http.IncomingMessage> {
  const opts: https.RequestOptions = {};
  await client.kubeConfig.applyToHTTPSOptions(opts);
  const url = new URL(client.server + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const mod = url.protocol === 'https:' ? https : http;
  return await new Promise((resolve, reject) => {
    const req = mod.request(url, { ...opts, method: 'GET' }, resolve);
    req.on('error', reject);
    req.end();
  });
}

type Found =
  { leaf: KubeClient; nodeName: string } | { status: number; message: string; nodeName?: undefined };

async function podOnVirtualNode(deps: NodeServerDeps, ns: string, podName: string): Promise<Found> {
  let pod: Pod;
  try {
    pod = await deps.host.request<Pod>('GET', `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(podName)}`);
  } catch (e) {
    return isNotFound(e)
      ? { status: 404, message: `pod ${ns}/${podName} not found` }
      : { status: 500, message: String(e) };
  }
  const nodeName = pod.spec.nodeName ?? '';
  const leaf = deps.leafForNode(nodeName);
  return leaf
    ? { leaf, nodeName }
    : { status: 404, message: `pod ${ns}/${podName} is not on a virtual node this server knows` };
}

/**
 * 401 or 403 for a caller the kubelet would turn away, else the pod's leaf (or why there is
 * none). The pod is looked up before authorization because its node is what is authorized;
 * a caller not allowed on every node learns nothing from it (403 either way).
 */
type Admission = { denied: { status: 401 | 403; message: string } } | { denied?: undefined; found?: Found };

async function admit(
  deps: NodeServerDeps,
  req: IncomingMessage,
  path: string,
  pod: { ns: string; name: string } | undefined,
): Promise<Admission> {
  const user = deps.auth.authenticate(req);
  if (!user) return { denied: { status: 401, message: 'Unauthorized' } };
  const found = pod ? await podOnVirtualNode(deps, pod.ns, pod.name) : undefined;
  const decision = await deps.auth.authorize(user, req.method ?? '', path, found?.nodeName);
  if (!decision.allowed) {
    deps.log.debug('kubelet API request forbidden', { user: user.name, path, node: found?.nodeName });
    return { denied: decision };
  }
  return found ? { found } : {};
}

/** /exec/{ns}/{pod}/{container} and /exec/{ns}/{pod}/{uid}/{container}, upgraded connections only. */
async function upgrade(
  deps: NodeServerDeps,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const isExec = parts[0] === 'exec' && (parts.length === 4 || parts.length === 5);
  const admitted = await admit(
    deps,
    req,
    url.pathname,
    isExec ? { ns: parts[1] as string, name: parts[2] as string } : undefined,
  );
  if (admitted.denied) {
    rejectUpgrade(socket, admitted.denied.status, admitted.denied.message);
    return;
  }
  const found = admitted.found;
  if (!isExec || !found) {
    rejectUpgrade(socket, 404, '404 request not found');
    return;
  }
  const ns = parts[1] as string;
  const podName = parts[2] as string;
  const container = parts[parts.length - 1] as string;
  const query = execQuery(url.searchParams, container);
  if (typeof query === 'string') {
    rejectUpgrade(socket, 400, query);
    return;
  }
  if (!('leaf' in found)) {
    rejectUpgrade(socket, found.status, found.message);
    return;
  }
  await proxyExec(found.leaf, ns, podName, query, req, socket, head);
}

async function handle(deps: NodeServerDeps, req: IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const isLogs = parts[0] === 'containerLogs' && parts.length === 4 && req.method === 'GET';
  const admitted = await admit(
    deps,
    req,
    url.pathname,
    isLogs ? { ns: parts[1] as string, name: parts[2] as string } : undefined,
  );
  if (admitted.denied) {
    badRequest(res, admitted.denied.message, admitted.denied.status);
    return;
  }
  if (parts[0] === 'healthz' && parts.length === 1) {
    res.writeHead(200).end('ok');
    return;
  }
  const found = admitted.found;
  if (!isLogs || !found) {
    badRequest(res, '404 request not found', 404);
    return;
  }
  const [, ns, podName, container] = parts as [string, string, string, string];
  const query = logQuery(url.searchParams, container);
  if (typeof query === 'string') {
    badRequest(res, query);
    return;
  }
  if (!('leaf' in found)) {
    badRequest(res, found.message, found.status);
    return;
  }
  const upstream = await streamFrom(
    found.leaf,
    `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(podName)}/log`,
    query,
  );
  res.writeHead(upstream.statusCode ?? 500, {
    'Content-Type': upstream.headers['content-type'] ?? 'text/plain',
  });
  res.flushHeaders();
  upstream.on('data', (c: Buffer) => res.write(c));
  upstream.on('end', () => res.end());
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
}

export async function startNodeServer(
  deps: NodeServerDeps,
  port: number,
  hosts: string[],
): Promise<{ port: number; close: () => Promise<void> }> {
  const tls = selfSignedKubeletCert(hosts);
  const server = https.createServer(
    {
      cert: tls.cert,
      key: tls.key,
      // Unverified clients are not turned away in the handshake: they get a 401, as from a kubelet.
      requestCert: true,
      rejectUnauthorized: false,
      ...(deps.auth.clientCa ? { ca: deps.auth.clientCa } : {}),
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      handle(deps, req, res).catch((e: unknown) => {
        deps.log.warn('kubelet API request failed', { url: req.url, ...errorFields(e) });
        if (!res.headersSent) badRequest(res, String(e), 500);
        else res.destroy();
      });
    },
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(deps, req, socket, head).catch((e: unknown) => {
      deps.log.warn('kubelet API exec failed', { url: req.url, ...errorFields(e) });
      rejectUpgrade(socket, 500, String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
