/**
 * Image references as containerd's CRI plugin resolves them: `nginx:1.22` is
 * `docker.io/library/nginx:1.22`. An image imported under its full name is the one a pod
 * naming the short form runs.
 */
import { UserError } from '../../common/errors.js';

export interface ImageReference {
  /** `docker.io`, `ghcr.io`, `registry.k8s.io`, `kosmos.local`, ... */
  domain: string;
  /** `library/nginx`, `kosmos-io/kosmos-ts`, ... */
  path: string;
  /** Empty when the reference has a digest and no tag. */
  tag: string;
  digest: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Parses and normalises a reference (docker's rules: default domain docker.io, tag latest). */
export function parseReference(ref: string): ImageReference {
  const bad = (why: string) => new UserError(`image reference "${ref}": ${why}`);
  let rest = ref;
  let digest = '';
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw bad('the digest is not sha256:<64 hex digits>');
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let domain = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    parts.shift();
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) if (!COMPONENT.test(p)) throw bad(`"${p}" is not a valid name component`);
  if (!tag && !digest) tag = 'latest';
  return { domain, path: parts.join('/'), tag, digest };
}

export const formatReference = (r: ImageReference): string =>
  `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;

/** `nginx:1.22` → `docker.io/library/nginx:1.22`; a full reference is returned as written. */
export const normalizeReference = (ref: string): string => formatReference(parseReference(ref));

/** The repository without tag or digest: `docker.io/library/nginx`. */
export const repositoryOf = (ref: string): string => {
  const r = parseReference(ref);
  return `${r.domain}/${r.path}`;
};
