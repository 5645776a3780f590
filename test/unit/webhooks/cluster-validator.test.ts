import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../../src/api/field-errors.js';
import type { Cluster, ClusterLinkOptions } from '../../../src/api/kinds.js';
import { validateCluster } from '../../../src/webhooks/validators/cluster.js';
import { KUBECONFIG, cluster } from './fixtures.js';

const link = (o: Partial<ClusterLinkOptions>): ClusterLinkOptions => ({
  networkType: 'p2p',
  ipFamily: 'ipv4',
  ...o,
});
const status = (podCIDRs: string[], serviceCIDRs: string[] = []): Cluster['status'] => ({
  clusterLinkStatus: { podCIDRs, serviceCIDRs },
});

function errorsOf(c: Cluster, old?: Cluster, others: Cluster[] = []): string[] {
  return validateCluster(c, old, others).errors.map(formatFieldError);
}

describe('Cluster validation', () => {
  it('GIVEN a parsable kubeconfig and a global CIDR map of its own CIDRs THEN it is admitted', () => {
    const c = cluster(
      'leaf-1',
      {
        kubeconfig: KUBECONFIG,
        clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/16' } }),
      },
      status(['10.244.0.0/16']),
    );
    expect(validateCluster(c, undefined, []).errors).toEqual([]);
  });

  it.each<[string, Cluster, string]>([
    [
      'a kubeconfig that is not YAML',
      cluster('c', { kubeconfig: Buffer.from('{{{').toString('base64') }),
      'spec.kubeconfig: Invalid value: "<redacted>": must be a base64-encoded kubeconfig; it does not parse as YAML',
    ],
    [
      'a kubeconfig with no cluster',
      cluster('c', { kubeconfig: Buffer.from('apiVersion: v1\nkind: Config\n').toString('base64') }),
      'spec.kubeconfig: Invalid value: "<redacted>": the kubeconfig names no cluster',
    ],
    [
      'a service CIDR that does not parse',
      cluster('c', { clusterLinkOptions: link({ serviceCIDRs: ['10.96.0.0/40'] }) }),
      'spec.clusterLinkOptions.serviceCIDRs[0]: Invalid value: "10.96.0.0/40": prefix length must be at most 32 for an IPv4 CIDR',
    ],
    [
      'an IPv6 CIDR in an ipv4 cluster',
      cluster('c', { clusterLinkOptions: link({ serviceCIDRs: ['fd00::/108'] }) }),
      'spec.clusterLinkOptions.serviceCIDRs[0]: Invalid value: "fd00::/108": must be an IPv4 CIDR because spec.clusterLinkOptions.ipFamily is "ipv4"',
    ],
    [
      'an IPv6 bridge CIDR in the ip field',
      cluster('c', { clusterLinkOptions: link({ bridgeCIDRs: { ip: 'fd00::/16', ip6: '9470::/16' } }) }),
      'spec.clusterLinkOptions.bridgeCIDRs.ip: Invalid value: "fd00::/16": must be an IPv4 CIDR in the "ip" field',
    ],
    [
      'a global CIDR map key that is not one of its CIDRs',
      cluster(
        'c',
        { clusterLinkOptions: link({ globalCIDRsMap: { '10.1.0.0/16': '100.64.0.0/16' } }) },
        status(['10.244.0.0/16']),
      ),
      'spec.clusterLinkOptions.globalCIDRsMap: Invalid value: "10.1.0.0/16": must be one of this cluster\'s CIDRs (10.244.0.0/16)',
    ],
    [
      'a global CIDR with another prefix length',
      cluster(
        'c',
        { clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/24' } }) },
        status(['10.244.0.0/16']),
      ),
      'spec.clusterLinkOptions.globalCIDRsMap[10.244.0.0/16]: Invalid value: "100.64.0.0/24": must have the prefix length of 10.244.0.0/16 (/16) so every address maps one to one',
    ],
    [
      'two global CIDRs of its own that overlap',
      cluster(
        'c',
        {
          clusterLinkOptions: link({
            globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/16', '10.96.0.0/16': '100.64.0.0/16' },
          }),
        },
        status(['10.244.0.0/16'], ['10.96.0.0/16']),
      ),
      'spec.clusterLinkOptions.globalCIDRsMap[10.96.0.0/16]: Duplicate value: "100.64.0.0/16": overlaps the global CIDR 100.64.0.0/16 of 10.244.0.0/16 in this cluster',
    ],
  ])('GIVEN %s THEN it is refused naming the field', (_c, c, message) => {
    const got = errorsOf(c);
    expect(
      got.some((m) => m.startsWith(message)),
      `${got.join('\n')}\n does not contain\n${message}`,
    ).toBe(true);
  });

  it("GIVEN a global CIDR inside another cluster's global CIDR THEN it is refused naming that cluster", () => {
    const other = cluster('leaf-2', {
      clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/12' } }),
    });
    const c = cluster(
      'leaf-1',
      { clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.65.0.0/16' } }) },
      status(['10.244.0.0/16']),
    );
    expect(errorsOf(c, undefined, [other])).toEqual([
      'spec.clusterLinkOptions.globalCIDRsMap[10.244.0.0/16]: Invalid value: "100.65.0.0/16": overlaps the global CIDR 100.64.0.0/12 of cluster "leaf-2"',
    ]);
  });

  it('GIVEN an update of a cluster whose own global CIDR is unchanged THEN its stored copy does not count as another cluster', () => {
    const c = cluster(
      'leaf-1',
      { clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/16' } }) },
      status(['10.244.0.0/16']),
    );
    expect(errorsOf(c, c, [c])).toEqual([]);
  });

  it('GIVEN a cluster whose CIDRs are not known yet THEN its map keys are not checked and a warning says so', () => {
    const c = cluster('c', {
      kubeconfig: KUBECONFIG,
      clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/16' } }),
    });
    const r = validateCluster(c, undefined, []);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/could not be checked/);
  });

  it.each<[string, Partial<ClusterLinkOptions>, Partial<ClusterLinkOptions>, string]>([
    [
      'networkType',
      { networkType: 'p2p' },
      { networkType: 'gateway' },
      'spec.clusterLinkOptions.networkType: Forbidden: may not be changed while ClusterLink is running',
    ],
    [
      'bridgeCIDRs',
      {},
      { bridgeCIDRs: { ip: '221.0.0.0/8', ip6: '9470::/16' } },
      'spec.clusterLinkOptions.bridgeCIDRs.ip: Forbidden: may not be changed while ClusterLink is running',
    ],
    [
      'ipFamily narrowing',
      { ipFamily: 'all' },
      { ipFamily: 'ipv4' },
      'spec.clusterLinkOptions.ipFamily: Forbidden: may not be changed while ClusterLink is running',
    ],
  ])(
    'GIVEN a running network WHEN %s changes THEN the update is refused with how to do it',
    (_c, before, after, message) => {
      const old = cluster('c', { clusterLinkOptions: link(before) });
      const next = cluster('c', { clusterLinkOptions: link(after) });
      const got = errorsOf(next, old);
      expect(
        got.some((m) => m.startsWith(message)),
        got.join('\n'),
      ).toBe(true);
      expect(got.join('\n')).toMatch(/set spec.clusterLinkOptions.enable to false first/);
    },
  );

  it('GIVEN a running ipv4 network WHEN ipFamily widens to all THEN the update is admitted', () => {
    expect(
      errorsOf(
        cluster('c', { clusterLinkOptions: link({ ipFamily: 'all' }) }),
        cluster('c', { clusterLinkOptions: link({}) }),
      ),
    ).toEqual([]);
  });

  it('GIVEN neither kubeconfig nor kubeconfigSecretRef THEN it is admitted with a warning that ClusterTree cannot reach it', () => {
    expect(validateCluster(cluster('c', {}), undefined, []).warnings).toEqual([
      'spec: neither kubeconfig nor kubeconfigSecretRef is set, so ClusterTree cannot reach this cluster',
    ]);
  });

  it('GIVEN a disabled network WHEN networkType changes THEN the update is admitted', () => {
    const old = cluster('c', { clusterLinkOptions: link({ enable: false }) });
    expect(
      errorsOf(cluster('c', { clusterLinkOptions: link({ enable: false, networkType: 'gateway' }) }), old),
    ).toEqual([]);
  });

  it('GIVEN a running network WHEN a global CIDR changes THEN the update is admitted with a warning that explains the break', () => {
    const old = cluster(
      'c',
      {
        kubeconfig: KUBECONFIG,
        clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.64.0.0/16' } }),
      },
      status(['10.244.0.0/16']),
    );
    const next = cluster(
      'c',
      {
        kubeconfig: KUBECONFIG,
        clusterLinkOptions: link({ globalCIDRsMap: { '10.244.0.0/16': '100.65.0.0/16' } }),
      },
      status(['10.244.0.0/16']),
    );
    const r = validateCluster(next, old, []);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      'spec.clusterLinkOptions.globalCIDRsMap[10.244.0.0/16]: changing 100.64.0.0/16 to 100.65.0.0/16 re-addresses the cluster for its peers; connections through 100.64.0.0/16 break',
    ]);
  });
});
