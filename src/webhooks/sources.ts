/**
 * What the webhooks read besides the object under review: the policies that may govern a
 * pod, and the other Clusters (whose global CIDRs a Cluster may not overlap). Production
 * reads them from informers (informer-sources.ts); tests and the bench from memory.
 */
import type { Cluster } from '../api/kinds.js';
import type { PolicyObject } from '../common/distribution-policy.js';

export interface PolicySource {
  /** DistributionPolicies of `namespace` and every ClusterDistributionPolicy. */
  policiesFor(namespace: string): readonly PolicyObject[];
  /** Whether the source has seen a full list; the server is not ready before. */
  synced(): boolean;
}

export interface ClusterSource {
  clusters(): readonly Cluster[];
  synced(): boolean;
}

/** Sources backed by arrays the caller may replace at any time (tests, bench, sandbox without informers). */
export class InMemorySources implements PolicySource, ClusterSource {
  constructor(
    public policies: PolicyObject[] = [],
    public clusterList: Cluster[] = [],
  ) {}

  policiesFor(namespace: string): readonly PolicyObject[] {
    return this.policies.filter(
      (p) => p.kind === 'ClusterDistributionPolicy' || (p.metadata.namespace ?? 'default') === namespace,
    );
  }

  clusters(): readonly Cluster[] {
    return this.clusterList;
  }

  synced(): boolean {
    return true;
  }
}
