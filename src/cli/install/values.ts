/** What an install is made of: the values the templates in deploy/ are rendered with. */
import { DEFAULT_NAMESPACE } from '../../api/constants.js';
import type { TemplateValues } from './template.js';

export const MODULES = ['scheduler', 'webhooks', 'clustertree', 'clusterlink', 'mcs'] as const;
export type Module = (typeof MODULES)[number];

/** The image every Kosmos component runs (`kosmos <component>`). */
export const DEFAULT_IMAGE = 'ghcr.io/kosmos-io/kosmos-ts:0.1.0';
/** The stock scheduler, same minor version as the control plane Kosmos is tested with. */
export const DEFAULT_SCHEDULER_IMAGE = 'registry.k8s.io/kube-scheduler:v1.36.3';
/** Debian bookworm's redis-server as `kosmosctl image build redis` makes it (the official tags of 7.0 work too). */
export const DEFAULT_REDIS_IMAGE = 'redis:7.0';
export const FIELD_MANAGER = 'kosmosctl';
export const MANAGED_BY = 'kosmosctl';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const PART_OF = 'kosmos';
export const WEBHOOK_CERT_SECRET = 'kosmos-webhooks-certs';
export const WEBHOOK_SERVICE = 'kosmos-webhooks';
export const EXTENDER_SERVICE = 'kosmos-extender';
export const EXTENDER_PORT = 10262;
export const SCHEDULER_CONFIG_MAP = 'kosmos-scheduler-config';
export const SCHEDULER_CONFIG_KEY = 'scheduler-config.yaml';

export interface HostValues {
  namespace: string;
  image: string;
  schedulerImage: string;
  cni: string;
  defaultNic: string;
  modules: Record<Module, boolean>;
  /** Empty: the bundled Redis (a Deployment and Service in the namespace). */
  redisUrl: string;
  redisImage: string;
  /** base64 CA PEM for the webhook configurations. */
  caBundle: string;
  managedBy: string;
}

export function defaultHostValues(over: Partial<HostValues> = {}): HostValues {
  return {
    namespace: DEFAULT_NAMESPACE,
    image: DEFAULT_IMAGE,
    schedulerImage: DEFAULT_SCHEDULER_IMAGE,
    cni: 'calico',
    defaultNic: '*',
    modules: { scheduler: true, webhooks: true, clustertree: true, clusterlink: true, mcs: true },
    redisUrl: '',
    redisImage: DEFAULT_REDIS_IMAGE,
    caBundle: '',
    managedBy: MANAGED_BY,
    ...over,
  };
}

export const bundledRedisUrl = (namespace: string): string => `redis://kosmos-redis.${namespace}.svc:6379`;

/** The `.Values` tree of the templates and of the chart's values.yaml. */
export function hostTemplateValues(v: HostValues): TemplateValues {
  return {
    namespace: v.namespace,
    image: v.image,
    schedulerImage: v.schedulerImage,
    cni: v.cni,
    defaultNic: v.defaultNic,
    managedBy: v.managedBy,
    modules: { ...v.modules },
    redis: {
      bundled: v.redisUrl === '',
      url: v.redisUrl || bundledRedisUrl(v.namespace),
      image: v.redisImage,
    },
    webhooks: { caBundle: v.caBundle },
  };
}

export interface MemberValues {
  namespace: string;
  /** Namespace of Kosmos in the host (gateway Leases). */
  hostNamespace: string;
  image: string;
  clusterName: string;
  redisUrl: string;
  link: boolean;
  /** The clusterset.local DNS server (and the MCS CRDs, applied apart from the templates). */
  mcs: boolean;
  managedBy: string;
}

export function memberTemplateValues(v: MemberValues): TemplateValues {
  return {
    namespace: v.namespace,
    hostNamespace: v.hostNamespace,
    image: v.image,
    clusterName: v.clusterName,
    link: v.link,
    managedBy: v.managedBy,
    redis: { url: v.redisUrl },
  };
}
