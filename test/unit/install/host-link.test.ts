import { describe, expect, test } from 'vitest';
import { hostClusterObject, hostMemberParts, isRootCluster } from '../../../src/cli/install/host-link.js';
import { defaultHostValues } from '../../../src/cli/install/values.js';

describe('install links the host into ClusterLink like a member', () => {
  const values = defaultHostValues({ cni: 'flannel', defaultNic: 'ens5' });

  test('GIVEN an install THEN the host gets a root Cluster without credentials: ClusterLink links it, ClusterTree and MCS leave it alone', () => {
    const c = hostClusterObject(values) as ReturnType<typeof hostClusterObject> & {
      spec: Record<string, unknown>;
    };
    expect(c.metadata?.name).toBe('host');
    expect(isRootCluster(c)).toBe(true);
    expect(c.spec['kubeconfig']).toBeUndefined();
    expect(c.spec['kubeconfigSecretRef']).toBeUndefined();
    expect(c.spec['clusterLinkOptions']).toEqual({
      enable: true,
      cni: 'flannel',
      defaultNICName: 'ens5',
      networkType: 'p2p',
      ipFamily: 'ipv4',
    });
    expect(c.spec['clusterTreeOptions']).toEqual({ enable: false });
  });

  test("GIVEN the host's member parts THEN the agent and elector for cluster host, without a second namespace or Redis Secret", () => {
    const parts = hostMemberParts(values, undefined);
    const kinds = parts.map((o) => `${o.kind}/${o.metadata?.name}`);
    expect(kinds).toContain('DaemonSet/kosmos-clusterlink-agent');
    expect(kinds).toContain('Deployment/kosmos-clusterlink-elector');
    expect(kinds).not.toContain('Secret/kosmos-redis');
    expect(parts.some((o) => o.kind === 'Namespace')).toBe(false);
    const agent = parts.find((o) => o.kind === 'DaemonSet') as unknown as {
      spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
    };
    expect(agent.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'CLUSTER_NAME')?.value).toBe(
      'host',
    );
    for (const o of parts) expect(o.metadata?.namespace ?? values.namespace).toBe(values.namespace);
  });
});
