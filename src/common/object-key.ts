/**
 * The `namespace/name` key of an object, as client-go's MetaNamespaceKeyFunc writes it
 * (cluster-scoped objects have an empty namespace, so their key starts with `/`).
 */
import type { KubeObject } from '../api/meta.js';

export const namespacedKey = (namespace: string | undefined, name: string): string =>
  `${namespace ?? ''}/${name}`;

export const objectKey = (o: KubeObject): string =>
  namespacedKey(o.metadata?.namespace, o.metadata?.name ?? '');

/** The namespace and name a key was built from. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  const namespace = key.slice(0, slash);
  return { ...(namespace ? { namespace } : {}), name: key.slice(slash + 1) };
}
