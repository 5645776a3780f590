/**
 * Cluster DNS for every sandbox cluster with real nodes: CoreDNS as kube-system/coredns behind
 * the usual `kube-dns` Service at the tenth address of the service range (the kubelets'
 * clusterDNS), so pods resolve cluster.local names and `kosmosctl install`/`join` can add their
 * clusterset.local block to its Corefile (the `reload` plugin picks it up).
 */
import type { KubeObject } from '../../api/meta.js';
import { KosmosError } from '../../common/errors.js';
import type { KubeClient } from '../../common/kube.js';
import { REAL_NODE_LABEL } from './real-node.js';
import { clusterDNSIP, type SandboxCluster } from './topology.js';

const NS = 'kube-system';
const LABELS = { 'k8s-app': 'kube-dns' };
const FIELD_MANAGER = 'kosmos-sandbox';

/**
 * No `forward` to an upstream: the sandbox has no network beyond this machine, and a forward
 * to the machine's resolver from inside a node's namespace would only time out.
 */
export const SANDBOX_COREFILE = `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    cache 30
    loop
    reload 2s
    loadbalance
}
`;

export function clusterDNSObjects(cluster: SandboxCluster, image: string): KubeObject[] {
  const meta = (name: string) => ({ name, namespace: NS, labels: LABELS });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('coredns') },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    } as KubeObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: NS }],
    } as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('coredns'),
      data: { Corefile: SANDBOX_COREFILE },
    } as KubeObject,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('coredns'),
      spec: {
        replicas: 1,
        selector: { matchLabels: LABELS },
        template: {
          metadata: { labels: LABELS },
          spec: {
            serviceAccountName: 'coredns',
            priorityClassName: 'system-cluster-critical',
            dnsPolicy: 'Default',
            // On a real node: a kwok node would report it Running while nothing answers.
            nodeSelector: { [REAL_NODE_LABEL]: 'containerd' },
            tolerations: [{ operator: 'Exists' }],
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'IfNotPresent',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 10 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
                  readOnlyRootFilesystem: true,
                },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [
              {
                name: 'config',
                configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] },
              },
            ],
          },
        },
      },
    } as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { ...meta('kube-dns'), labels: { ...LABELS, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: LABELS,
        clusterIP: clusterDNSIP(cluster.serviceCIDR),
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    } as KubeObject,
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Applies cluster DNS (only the Corefile's first version: install's block is kept) and waits for it. */
export async function ensureClusterDNS(
  client: KubeClient,
  cluster: SandboxCluster,
  image: string,
  timeoutMs = 180_000,
): Promise<void> {
  for (const obj of clusterDNSObjects(cluster, image)) {
    if (obj.kind === 'ConfigMap' && (await client.getOrUndefined('v1', 'ConfigMap', 'coredns', NS))) continue;
    await client.apply(obj, FIELD_MANAGER);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.get<KubeObject & { status?: { readyReplicas?: number } }>(
      'apps/v1',
      'Deployment',
      'coredns',
      NS,
    );
    if ((d.status?.readyReplicas ?? 0) >= 1) return;
    if (Date.now() > deadline) {
      throw new KosmosError(
        `${cluster.name}: cluster DNS (kube-system/coredns) not ready after ${timeoutMs / 1000}s`,
      );
    }
    await sleep(500);
  }
}
