import { describe, expect, it } from 'vitest';
import type { Cluster } from '../../../src/api/kinds.js';
import { clustersUsingSecret, kubeconfigDigest } from '../../../src/common/cluster-kubeconfig.js';

const cluster = (name: string, spec: Cluster['spec']): Cluster =>
  ({ apiVersion: 'kosmos.io/v1alpha1', kind: 'Cluster', metadata: { name }, spec }) as Cluster;

describe("which Clusters a Secret's rotation concerns", () => {
  const clusters = [
    cluster('a', { kubeconfigSecretRef: { name: 'kubeconfig-a', namespace: 'kosmos-system' } }),
    // no namespace: the Secret is in Kosmos' namespace
    cluster('b', { kubeconfigSecretRef: { name: 'kubeconfig-b' } }),
    cluster('c', { kubeconfigSecretRef: { name: 'kubeconfig-a', namespace: 'other' } }),
    // an inline kubeconfig wins over a reference: the Secret is not what it uses
    cluster('d', {
      kubeconfig: 'YQ==',
      kubeconfigSecretRef: { name: 'kubeconfig-a', namespace: 'kosmos-system' },
    }),
  ];
  it('GIVEN Clusters naming Secrets THEN a Secret concerns exactly those that read it, by namespace and name', () => {
    expect(
      clustersUsingSecret(clusters, 'kosmos-system', 'kubeconfig-a').map((c) => c.metadata.name),
    ).toEqual(['a']);
    expect(
      clustersUsingSecret(clusters, 'kosmos-system', 'kubeconfig-b').map((c) => c.metadata.name),
    ).toEqual(['b']);
    expect(clustersUsingSecret(clusters, 'other', 'kubeconfig-a').map((c) => c.metadata.name)).toEqual(['c']);
    expect(clustersUsingSecret(clusters, 'default', 'kubeconfig-b')).toEqual([]);
  });

  it('GIVEN two kubeconfigs THEN their digests differ exactly when their text does', () => {
    expect(kubeconfigDigest('x')).toBe(kubeconfigDigest('x'));
    expect(kubeconfigDigest('x')).not.toBe(kubeconfigDigest('y'));
    expect(kubeconfigDigest('x')).not.toContain('x');
  });
});
