/**
 * A member cluster's service CIDRs, decided from what the cluster shows, in this order:
 *
 * 1. `spec.clusterLinkOptions.serviceCIDRs`, when set: the user's override, always wins.
 * 2. `ServiceCIDR` objects (networking.k8s.io/v1, on by default since Kubernetes 1.33): the
 *    apiserver allocates ClusterIPs only from them, and it creates the default one
 *    (`kubernetes`) from its own `--service-cluster-ip-range`, so they are the whole truth.
 * 3. `--service-cluster-ip-range` of the kube-apiserver pods in kube-system (static pods of
 *    kubeadm-style clusters; their mirror pods show the flags).
 * 4. The `kosmosctl join --service-cidr` value (the Cluster annotation `kosmos.io/service-cidrs`),
 *    for clusters that show neither, such as managed ones before 1.33.
 *
 * No other source is sound: the `kubernetes` Service's ClusterIP is the first address of the
 * primary range but says nothing of its length; creating a Service with an out-of-range IP in
 * dry-run mode makes older allocators name the range, but only in an error message, which
 * the ServiceCIDR allocator words differently.
 */
import type { Pod } from '../../api/core.js';
import { normalizeCIDR } from '../../common/ip.js';
import { SERVICE_RANGE_FLAG, type ServiceCIDRObject } from './member-objects.js';

export type ServiceCIDRSource = 'spec' | 'ServiceCIDR' | 'apiserver' | 'join' | 'none';

export interface ServiceCIDRInputs {
  /** spec.clusterLinkOptions.serviceCIDRs. */
  override?: readonly string[] | undefined;
  /** ServiceCIDR objects; undefined when the apiserver does not serve the kind. */
  serviceCIDRs?: readonly ServiceCIDRObject[] | undefined;
  /** Pods labelled component=kube-apiserver in kube-system. */
  apiserverPods?: readonly Pod[] | undefined;
  /** The join --service-cidr value as stored on the Cluster (comma-separated). */
  joinFlag?: string | undefined;
}

export interface ServiceCIDRDecision {
  cidrs: string[];
  source: ServiceCIDRSource;
}

/** Network addresses, first occurrence kept; an unparsable entry stays as written so the network manager reports it. */
const unique = (list: readonly string[]): string[] => [
  ...new Set(
    list
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => normalizeCIDR(s) ?? s),
  ),
];

/** `a,b` (the flag's and the annotation's form) as a list. */
export const splitCIDRList = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The values of `--service-cluster-ip-range` in the command and args of every container of these pods. */
export function apiserverServiceRanges(pods: readonly Pod[]): string[] {
  const out: string[] = [];
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    for (const c of p.spec?.containers ?? []) {
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      argv.forEach((a, i) => {
        if (a.startsWith(`${SERVICE_RANGE_FLAG}=`))
          out.push(...splitCIDRList(a.slice(SERVICE_RANGE_FLAG.length + 1)));
        else if (a === SERVICE_RANGE_FLAG) out.push(...splitCIDRList(argv[i + 1]));
      });
    }
  }
  return unique(out);
}

/** The ServiceCIDR the apiserver makes from its own flag. */
const DEFAULT_SERVICE_CIDR = 'kubernetes';

/**
 * Every ServiceCIDR's ranges, the apiserver's default one first, then by name. Terminating
 * ones count too: the apiserver deletes one only once no ClusterIP is left in it, so until
 * then Services there still need a route.
 */
export function serviceCIDRObjectRanges(objects: readonly ServiceCIDRObject[]): string[] {
  const rank = (o: ServiceCIDRObject) => (o.metadata?.name === DEFAULT_SERVICE_CIDR ? 0 : 1);
  const sorted = [...objects].sort(
    (a, b) => rank(a) - rank(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  );
  return unique(sorted.flatMap((o) => o.spec?.cidrs ?? []));
}

export function serviceCIDRsFor(i: ServiceCIDRInputs): ServiceCIDRDecision {
  const override = unique(i.override ?? []);
  if (override.length > 0) return { cidrs: override, source: 'spec' };
  const objects = serviceCIDRObjectRanges(i.serviceCIDRs ?? []);
  if (objects.length > 0) return { cidrs: objects, source: 'ServiceCIDR' };
  const flags = apiserverServiceRanges(i.apiserverPods ?? []);
  if (flags.length > 0) return { cidrs: flags, source: 'apiserver' };
  const joined = unique(splitCIDRList(i.joinFlag));
  if (joined.length > 0) return { cidrs: joined, source: 'join' };
  return { cidrs: [], source: 'none' };
}
