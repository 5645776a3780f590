/**
 * Where a member cluster's credentials live: a Cluster carries its kubeconfig inline
 * (spec.kubeconfig, base64, as the Go project's kosmosctl wrote it) or points at a Secret of
 * the host (spec.kubeconfigSecretRef, as `kosmosctl join` writes it). Every component that
 * talks to members reads them here, so they all accept the same Cluster objects.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_NAMESPACE } from '../api/constants.js';
import type { Cluster } from '../api/kinds.js';
import type { KubeObject } from '../api/meta.js';
import { KosmosError } from './errors.js';
import type { KubeClient } from './kube.js';

/** The kubeconfig text of a Cluster, or undefined when it names none. */
export async function clusterKubeconfigText(host: KubeClient, c: Cluster): Promise<string | undefined> {
  if (c.spec.kubeconfig) return Buffer.from(c.spec.kubeconfig, 'base64').toString('utf8');
  const ref = c.spec.kubeconfigSecretRef;
  if (!ref) return undefined;
  const ns = ref.namespace ?? DEFAULT_NAMESPACE;
  const key = ref.key ?? 'kubeconfig';
  let secret: KubeObject & { data?: Record<string, string> };
  try {
    secret = await host.get<KubeObject & { data?: Record<string, string> }>('v1', 'Secret', ref.name, ns);
  } catch (e) {
    throw new KosmosError(
      `cluster ${c.metadata.name}: spec.kubeconfigSecretRef: reading Secret ${ns}/${ref.name}`,
      { cause: e },
    );
  }
  const value = secret.data?.[key];
  if (!value)
    throw new KosmosError(
      `cluster ${c.metadata.name}: spec.kubeconfigSecretRef: Secret ${ns}/${ref.name} has no key ${key}`,
    );
  return Buffer.from(value, 'base64').toString('utf8');
}

/** Like clusterKubeconfigText, for components that cannot serve a Cluster without one. */
export async function requireClusterKubeconfig(host: KubeClient, c: Cluster): Promise<string> {
  const text = await clusterKubeconfigText(host, c);
  if (text === undefined)
    throw new KosmosError(
      `cluster ${c.metadata.name}: spec.kubeconfig or spec.kubeconfigSecretRef is required`,
    );
  return text;
}

/** What tells two credentials apart: a digest of the kubeconfig text (the text itself is a secret). */
export const kubeconfigDigest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The Clusters whose credentials are the Secret `namespace/name` (to re-read when it changes). */
export function clustersUsingSecret(clusters: Iterable<Cluster>, namespace: string, name: string): Cluster[] {
  return [...clusters].filter((c) => {
    const ref = c.spec.kubeconfigSecretRef;
    return !c.spec.kubeconfig && ref?.name === name && (ref.namespace ?? DEFAULT_NAMESPACE) === namespace;
  });
}
