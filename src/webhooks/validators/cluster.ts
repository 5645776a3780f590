/**
 * Cluster rules: a kubeconfig ClusterTree can use, CIDRs that parse and fit the cluster's
 * IP family, a globalCIDRsMap whose keys are this cluster's CIDRs and whose values keep the
 * prefix length and stay clear of every other cluster's global CIDRs, and on update no
 * change that silently re-addresses a running ClusterLink network.
 */
import { DEFAULT_BRIDGE_CIDRS, DEFAULT_LOCAL_CIDRS, type IP_FAMILIES } from '../../api/constants.js';
import { duplicate, forbidden, invalid, type FieldError } from '../../api/field-errors.js';
import type { Cluster, ClusterLinkOptions } from '../../api/kinds.js';
import { checkCIDR, cidrsEqual, cidrsOverlap, parseCIDR, type CIDR, type Family } from '../../common/ip.js';
import { kubeconfigProblem } from '../kubeconfig.js';
import type { ValidationResult } from './distribution-policy.js';

const CLO = 'spec.clusterLinkOptions';
type IpFamilyName = (typeof IP_FAMILIES)[number];

/** A parsed CIDR with the text it was written as, which messages quote. */
interface Cidr extends CIDR {
  text: string;
}

function parseCidr(text: string): Cidr | undefined {
  const c = parseCIDR(text);
  return c && { ...c, text };
}

function allowedFamilies(ipFamily: IpFamilyName): Family[] {
  return ipFamily === 'ipv4' ? [4] : ipFamily === 'ipv6' ? [6] : [4, 6];
}

/** Parse a CIDR at `field`, requiring one of `families`; pushes the field error and returns undefined on failure. */
function cidrAt(
  field: string,
  text: string,
  families: Family[],
  why: string,
  errors: FieldError[],
): Cidr | undefined {
  const parsed = parseCidr(text);
  if (!parsed) {
    errors.push(checkCIDR(field, text) as FieldError);
    return undefined;
  }
  if (!families.includes(parsed.family)) {
    errors.push(invalid(field, text, `must be an IPv${families.join(' or IPv')} CIDR ${why}`));
    return undefined;
  }
  return parsed;
}

/** The CIDRs this cluster is known to own: what ClusterLink observed plus what the user declared. */
function ownCidrs(cluster: Cluster): string[] {
  return [
    ...(cluster.status?.clusterLinkStatus?.podCIDRs ?? []),
    ...(cluster.status?.clusterLinkStatus?.serviceCIDRs ?? []),
    ...(cluster.spec.clusterLinkOptions?.serviceCIDRs ?? []),
  ];
}

function withDefaults(o: ClusterLinkOptions | undefined) {
  return {
    enable: o?.enable ?? true,
    networkType: o?.networkType ?? 'p2p',
    ipFamily: (o?.ipFamily ?? 'all') as IpFamilyName,
    cni: o?.cni ?? 'calico',
    localCIDRs: o?.localCIDRs ?? DEFAULT_LOCAL_CIDRS,
    bridgeCIDRs: o?.bridgeCIDRs ?? DEFAULT_BRIDGE_CIDRS,
    globalCIDRsMap: o?.globalCIDRsMap ?? {},
  };
}

function validateCidrs(
  cluster: Cluster,
  others: readonly Cluster[],
  errors: FieldError[],
  warnings: string[],
): void {
  const clo = cluster.spec.clusterLinkOptions;
  if (!clo) return;
  const opts = withDefaults(clo);
  const families = allowedFamilies(opts.ipFamily);
  const familyWhy = `because ${CLO}.ipFamily is ${JSON.stringify(opts.ipFamily)}`;

  for (const pair of ['localCIDRs', 'bridgeCIDRs'] as const) {
    const value = opts[pair];
    cidrAt(`${CLO}.${pair}.ip`, value.ip, [4], 'in the "ip" field', errors);
    cidrAt(`${CLO}.${pair}.ip6`, value.ip6, [6], 'in the "ip6" field', errors);
  }
  (clo.serviceCIDRs ?? []).forEach((c, i) =>
    cidrAt(`${CLO}.serviceCIDRs[${i}]`, c, families, familyWhy, errors),
  );

  const own = ownCidrs(cluster)
    .map((c) => parseCidr(c))
    .filter((c): c is Cidr => c !== undefined);
  const othersGlobal: { cluster: string; cidr: Cidr }[] = [];
  for (const other of others) {
    if (other.metadata.name === cluster.metadata.name) continue;
    for (const v of Object.values(other.spec.clusterLinkOptions?.globalCIDRsMap ?? {})) {
      const parsed = parseCidr(v);
      if (parsed) othersGlobal.push({ cluster: other.metadata.name ?? '', cidr: parsed });
    }
  }

  const seenGlobal: { key: string; cidr: Cidr }[] = [];
  let unknownKeys = false;
  for (const [key, value] of Object.entries(opts.globalCIDRsMap)) {
    const keyField = `${CLO}.globalCIDRsMap`;
    const valueField = `${CLO}.globalCIDRsMap[${key}]`;
    const real = cidrAt(keyField, key, families, familyWhy, errors);
    const global = cidrAt(valueField, value, families, familyWhy, errors);
    if (real && own.length > 0 && !own.some((c) => cidrsEqual(c, real))) {
      errors.push(
        invalid(keyField, key, `must be one of this cluster's CIDRs (${own.map((c) => c.text).join(', ')})`),
      );
    }
    if (real && own.length === 0) unknownKeys = true;
    if (!real || !global) continue;
    if (real.family !== global.family) {
      errors.push(invalid(valueField, value, `must be the same IP family as ${key}`));
      continue;
    }
    if (real.prefix !== global.prefix) {
      errors.push(
        invalid(
          valueField,
          value,
          `must have the prefix length of ${key} (/${real.prefix}) so every address maps one to one`,
        ),
      );
    }
    const clash = seenGlobal.find((s) => cidrsOverlap(s.cidr, global));
    if (clash) {
      errors.push(
        duplicate(
          valueField,
          value,
          `overlaps the global CIDR ${clash.cidr.text} of ${clash.key} in this cluster`,
        ),
      );
    }
    const foreign = othersGlobal.find((o) => cidrsOverlap(o.cidr, global));
    if (foreign) {
      errors.push(
        invalid(
          valueField,
          value,
          `overlaps the global CIDR ${foreign.cidr.text} of cluster ${JSON.stringify(foreign.cluster)}`,
        ),
      );
    }
    seenGlobal.push({ key, cidr: global });
  }
  if (unknownKeys) {
    warnings.push(
      `${CLO}.globalCIDRsMap: this cluster's pod and service CIDRs are not known yet (no status and no serviceCIDRs), so its keys could not be checked against them`,
    );
  }
}

/** Changes to a running ClusterLink network that would cut traffic without a clean re-join. */
function validateUpdate(cluster: Cluster, old: Cluster, errors: FieldError[], warnings: string[]): void {
  const before = withDefaults(old.spec.clusterLinkOptions);
  const after = withDefaults(cluster.spec.clusterLinkOptions);
  const running = old.spec.clusterLinkOptions !== undefined && before.enable && after.enable;
  if (before.enable && !after.enable && old.spec.clusterLinkOptions) {
    warnings.push(
      `${CLO}.enable: disabling ClusterLink removes this cluster's tunnels; cross-cluster pod traffic to it stops`,
    );
  }
  if (!running) return;
  const hint = `may not be changed while ClusterLink is running: set ${CLO}.enable to false first, then change it and enable again`;
  for (const field of ['networkType', 'cni'] as const) {
    if (before[field] !== after[field])
      errors.push(forbidden(`${CLO}.${field}`, `${hint} (was ${JSON.stringify(before[field])})`));
  }
  for (const pair of ['localCIDRs', 'bridgeCIDRs'] as const) {
    for (const k of ['ip', 'ip6'] as const) {
      if (before[pair][k] !== after[pair][k]) {
        errors.push(
          forbidden(
            `${CLO}.${pair}.${k}`,
            `${hint}: every tunnel device of the cluster is addressed from it (was ${JSON.stringify(before[pair][k])})`,
          ),
        );
      }
    }
  }
  const was = allowedFamilies(before.ipFamily);
  const now = allowedFamilies(after.ipFamily);
  const dropped = was.filter((f) => !now.includes(f));
  if (dropped.length > 0) {
    errors.push(
      forbidden(
        `${CLO}.ipFamily`,
        `${hint}: going from ${JSON.stringify(before.ipFamily)} to ${JSON.stringify(after.ipFamily)} removes the IPv${dropped.join('/IPv')} routes that running pods use`,
      ),
    );
  }
  for (const [key, value] of Object.entries(before.globalCIDRsMap)) {
    const next = after.globalCIDRsMap[key];
    if (next !== undefined && next !== value) {
      warnings.push(
        `${CLO}.globalCIDRsMap[${key}]: changing ${value} to ${next} re-addresses the cluster for its peers; connections through ${value} break`,
      );
    } else if (next === undefined) {
      warnings.push(`${CLO}.globalCIDRsMap[${key}]: removed; peers lose the global route ${value} to ${key}`);
    }
  }
}

export function validateCluster(
  cluster: Cluster,
  old: Cluster | undefined,
  others: readonly Cluster[],
): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  if (cluster.spec.kubeconfig !== undefined) {
    const problem = kubeconfigProblem(cluster.spec.kubeconfig);
    if (problem) errors.push(invalid('spec.kubeconfig', '<redacted>', problem));
  } else if (!cluster.spec.kubeconfigSecretRef) {
    warnings.push(
      'spec: neither kubeconfig nor kubeconfigSecretRef is set, so ClusterTree cannot reach this cluster',
    );
  }
  validateCidrs(cluster, others, errors, warnings);
  if (old) validateUpdate(cluster, old, errors, warnings);
  return { errors, warnings };
}
