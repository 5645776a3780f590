/**
 * The CNI objects ClusterLink reads, as a Calico or Cilium install leaves them in a cluster:
 * their CRDs (the fields ClusterLink uses, with the types the projects give them, so the
 * apiserver prunes what the real CRDs would prune) — their objects, not their datapath.
 */
const crd = (
  group: string,
  kind: string,
  plural: string,
  version: string,
  spec: Record<string, unknown>,
): Record<string, unknown> => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Cluster',
    names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec,
            },
          },
        },
      },
    ],
  },
});

const str = { type: 'string' };
const bool = { type: 'boolean' };

/** crd.projectcalico.org/v1 IPPool and BlockAffinity (Kubernetes datastore), as in Calico 3.2x. */
export const CALICO_CRDS = [
  crd('crd.projectcalico.org', 'IPPool', 'ippools', 'v1', {
    type: 'object',
    required: ['cidr'],
    properties: {
      allowedUses: { type: 'array', items: str },
      blockSize: { type: 'integer' },
      cidr: str,
      disableBGPExport: bool,
      disabled: bool,
      ipipMode: str,
      natOutgoing: bool,
      nodeSelector: str,
      vxlanMode: str,
    },
  }),
  crd('crd.projectcalico.org', 'BlockAffinity', 'blockaffinities', 'v1', {
    type: 'object',
    required: ['cidr', 'deleted', 'node', 'state'],
    properties: { cidr: str, deleted: str, node: str, state: str },
  }),
];

/** cilium.io/v2 CiliumNode (cluster-pool IPAM writes spec.ipam.podCIDRs). */
export const CILIUM_CRDS = [
  crd('cilium.io', 'CiliumNode', 'ciliumnodes', 'v2', {
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
    properties: {
      ipam: {
        type: 'object',
        'x-kubernetes-preserve-unknown-fields': true,
        properties: { podCIDRs: { type: 'array', items: str } },
      },
    },
  }),
];

export const crdNames = (crds: readonly Record<string, unknown>[]): string[] =>
  crds.map((c) => (c['metadata'] as { name: string }).name);
