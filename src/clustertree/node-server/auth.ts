/**
 * Who may use the virtual nodes' kubelet API, decided as a kubelet decides it (kubelet
 * `--client-ca-file` with `--authorization-mode=Webhook` and anonymous access off):
 *
 * - authentication: a TLS client certificate that chains to the client CA given with
 *   `--client-ca-file` (in a cluster: the CA of the host apiserver's
 *   `--kubelet-client-certificate`) and allows client authentication; user = its CommonName,
 *   groups = its Organizations plus system:authenticated. Anything else gets 401;
 * - authorization: a SubjectAccessReview in the host for `<verb> nodes/<subresource>` on the
 *   pod's virtual node, with the verb and subresource the kubelet derives from the request
 *   (POST → create, GET → get, …; /containerLogs and /exec → proxy), cached as the kubelet
 *   caches it (allowed 5 min, denied 30 s). Denied gets 403.
 *
 * One server serves every virtual node, so the node is the one the pod named in the path is
 * bound to; a path naming no pod of a virtual node is authorized against all nodes (no name),
 * so an unauthorized caller cannot tell which pods exist.
 */
import { readFileSync } from 'node:fs';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { UserError } from '../../common/errors.js';
import type { IncomingMessage } from 'node:http';
import type { KubeClient } from '../../common/kube.js';

/** A kubelet's request attributes, except the node (resource `nodes`, API version v1). */
export interface KubeletRequestAttributes {
  verb: string;
  /** Checked in order; any one allowed is enough (the kubelet's fine-grained authorization). */
  subresources: string[];
}

export interface KubeletUser {
  name: string;
  groups: string[];
}

const VERBS: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

const isSubpath = (path: string, prefix: string): boolean => {
  const p = prefix.replace(/\/$/, '');
  return path === p || path.startsWith(`${p}/`);
};

/** The kubelet's mapping (pkg/kubelet/server/auth.go), fine-grained authorization included. */
export function kubeletRequestAttributes(method: string, path: string): KubeletRequestAttributes {
  const subresources: string[] = [];
  if (isSubpath(path, '/pods') || isSubpath(path, '/runningpods/')) subresources.push('pods');
  else if (isSubpath(path, '/healthz')) subresources.push('healthz');
  else if (isSubpath(path, '/configz')) subresources.push('configz');
  if (isSubpath(path, '/stats/')) subresources.push('stats');
  else if (isSubpath(path, '/metrics')) subresources.push('metrics');
  else if (isSubpath(path, '/logs/')) subresources.push('log');
  else if (isSubpath(path, '/checkpoint/')) subresources.push('checkpoint');
  else if (isSubpath(path, '/statusz')) subresources.push('statusz');
  else if (isSubpath(path, '/flagz')) subresources.push('configz');
  else subresources.push('proxy');
  return { verb: VERBS[method.toUpperCase()] ?? '', subresources };
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const AUTHENTICATED_GROUP = 'system:authenticated';

const many = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** The user a verified client certificate names, or undefined if it cannot authenticate a client. */
export function userFromCertificate(
  cert: Pick<PeerCertificate, 'subject'> & { ext_key_usage?: string[] },
): KubeletUser | undefined {
  if (cert.ext_key_usage && !cert.ext_key_usage.includes(CLIENT_AUTH_OID)) return undefined;
  const name = many(cert.subject?.CN as string | string[] | undefined)[0];
  if (!name) return undefined;
  const groups = many(cert.subject?.O as string | string[] | undefined);
  return { name, groups: [...groups.filter((g) => g !== AUTHENTICATED_GROUP), AUTHENTICATED_GROUP] };
}

export type AuthDecision =
  { allowed: true; user: KubeletUser } | { allowed: false; status: 403; message: string };

/** The PEM of --client-ca-file, with an error naming the flag when it cannot serve as one. */
export function readClientCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(
      `--client-ca-file: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UserError(`--client-ca-file: Invalid value: "${file}": holds no PEM certificate`);
  return pem;
}

const ALLOWED_TTL_MS = 5 * 60_000;
const DENIED_TTL_MS = 30_000;
const MAX_CACHE = 10_000;

interface SubjectAccessReviewStatus {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export class KubeletAuth {
  private readonly cache = new Map<string, { allowed: boolean; until: number }>();

  /** `clientCa`: PEM of the CA whose client certificates are accepted; none → every request is 401. */
  constructor(
    private readonly host: KubeClient,
    readonly clientCa: string | undefined,
  ) {}

  authenticate(req: IncomingMessage): KubeletUser | undefined {
    if (!this.clientCa) return undefined;
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) return undefined;
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return undefined;
    return userFromCertificate(cert);
  }

  /** 403 or allowed; `nodeName` undefined authorizes against every node. */
  async authorize(
    user: KubeletUser,
    method: string,
    path: string,
    nodeName: string | undefined,
  ): Promise<AuthDecision> {
    const attrs = kubeletRequestAttributes(method, path);
    for (const subresource of attrs.subresources)
      if (await this.allowed(user, attrs.verb, subresource, nodeName)) return { allowed: true, user };
    return {
      allowed: false,
      status: 403,
      message: `Forbidden (user=${user.name}, verb=${attrs.verb}, resource=nodes, subresource(s)=[${attrs.subresources.join(' ')}])\n`,
    };
  }

  private async allowed(
    user: KubeletUser,
    verb: string,
    subresource: string,
    nodeName: string | undefined,
  ): Promise<boolean> {
    const key = JSON.stringify([user.name, user.groups, verb, subresource, nodeName ?? '']);
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.allowed;
    const review = await this.host.request<SubjectAccessReviewStatus>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.name,
          groups: user.groups,
          resourceAttributes: {
            verb,
            version: 'v1',
            resource: 'nodes',
            subresource,
            ...(nodeName ? { name: nodeName } : {}),
          },
        },
      },
    );
    const allowed = review.status?.allowed === true;
    if (this.cache.size >= MAX_CACHE)
      for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
    if (this.cache.size < MAX_CACHE)
      this.cache.set(key, { allowed, until: now + (allowed ? ALLOWED_TTL_MS : DENIED_TTL_MS) });
    return allowed;
  }
}
