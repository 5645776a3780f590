import {
  CNI_NAMES,
  DEFAULT_BRIDGE_CIDRS,
  DEFAULT_LOCAL_CIDRS,
  DEFAULT_NAMESPACE,
  IP_FAMILIES,
  NETWORK_TYPES,
} from '../constants.js';
import { conditions, labelSelector, stringList, stringMap, taint } from './common.js';

const cidrPair = (defaults: { ip: string; ip6: string }) =>
  ({
    type: 'object',
    required: ['ip', 'ip6'],
    default: defaults,
    properties: { ip: { type: 'string' }, ip6: { type: 'string' } },
    additionalProperties: false,
  }) as const;

export const clusterSpecSchema = {
  type: 'object',
  properties: {
    kubeconfig: {
      type: 'string',
      format: 'byte',
      description: 'Kubeconfig of the member cluster, base64 encoded.',
    },
    kubeconfigSecretRef: {
      type: 'object',
      description: 'Kosmos extension: read the kubeconfig from a Secret instead of spec.kubeconfig.',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        namespace: { type: 'string', default: DEFAULT_NAMESPACE },
        key: { type: 'string', default: 'kubeconfig' },
      },
      additionalProperties: false,
    },
    namespace: { type: 'string', default: DEFAULT_NAMESPACE },
    imageRepository: { type: 'string' },
    clusterLinkOptions: {
      type: 'object',
      properties: {
        enable: { type: 'boolean', default: true },
        cni: { type: 'string', default: 'calico', enum: CNI_NAMES },
        networkType: { type: 'string', enum: NETWORK_TYPES, default: 'p2p' },
        ipFamily: { type: 'string', enum: IP_FAMILIES, default: 'all' },
        useIPPool: { type: 'boolean', default: false },
        localCIDRs: cidrPair(DEFAULT_LOCAL_CIDRS),
        bridgeCIDRs: cidrPair(DEFAULT_BRIDGE_CIDRS),
        nicNodeNames: {
          type: 'array',
          items: {
            type: 'object',
            required: ['interfaceName', 'nodeName'],
            properties: { interfaceName: { type: 'string' }, nodeName: stringList },
            additionalProperties: false,
          },
        },
        defaultNICName: { type: 'string', default: '*' },
        globalCIDRsMap: {
          ...stringMap,
          description: 'Real CIDR of this cluster -> global CIDR seen by others.',
        },
        autodetectionMethod: { type: 'string' },
        serviceCIDRs: {
          ...stringList,
          description: 'Kosmos extension: service CIDRs, for clusters that do not expose them.',
        },
      },
      additionalProperties: false,
    },
    clusterTreeOptions: {
      type: 'object',
      properties: {
        enable: { type: 'boolean', default: true },
        leafModels: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              leafNodeName: { type: 'string' },
              labels: stringMap,
              taints: { type: 'array', items: taint },
              nodeSelector: {
                type: 'object',
                properties: { nodeName: { type: 'string' }, labelSelector },
                additionalProperties: false,
              },
            },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

export const clusterStatusSchema = {
  type: 'object',
  properties: {
    clusterLinkStatus: {
      type: 'object',
      properties: { podCIDRs: stringList, serviceCIDRs: stringList },
      additionalProperties: false,
    },
    clusterTreeStatus: {
      type: 'object',
      properties: {
        leafNodeItems: {
          type: 'array',
          items: {
            type: 'object',
            properties: { leafNodeName: { type: 'string' } },
            additionalProperties: false,
          },
        },
        memberNodes: { type: 'integer', description: 'Ready, schedulable member nodes.' },
        largestFree: {
          ...stringMap,
          description: 'Largest free amount of each resource on a single member node.',
        },
        lastSyncTime: { type: 'string', format: 'date-time' },
      },
      additionalProperties: false,
    },
    conditions,
  },
  additionalProperties: false,
} as const;
