/**
 * The process definitions of one sandbox: a shared etcd (one sibling prefix per cluster),
 * and per cluster kube-apiserver, kube-controller-manager, kube-scheduler and kwok, all on
 * loopback with certificates from pki.ts.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Binaries } from './binaries.js';
import type { HealthProbe, ProcessSpec } from './processes.js';
import type { SandboxCluster } from './topology.js';

export interface ComponentDef {
  name: string;
  cluster?: string;
  /** The real node a node process (containerd, kubelet, kube-proxy) belongs to. */
  node?: string;
  port: number;
  spec: ProcessSpec;
  health: HealthProbe;
  /** A string of the command line that identifies the process as ours (pid reuse). */
  hint: string;
}

export interface ClusterFiles {
  dir: string;
  kubeconfig: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

export function clusterFiles(root: string, cluster: string): ClusterFiles {
  const dir = join(root, cluster);
  return {
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    caCert: join(root, 'pki', 'ca.crt'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    saKey: join(root, 'pki', 'sa.key'),
    saPub: join(root, 'pki', 'sa.pub'),
  };
}

export function etcdDef(bin: Binaries, root: string, port: number, peerPort: number): ComponentDef {
  const url = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return {
    name: 'etcd',
    port,
    hint: bin.etcd,
    health: { url: `${url}/health` },
    spec: {
      name: 'etcd',
      command: bin.etcd,
      args: [
        '--name=sandbox',
        `--data-dir=${join(root, 'etcd', 'data')}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=sandbox=${peer}`,
        '--auto-compaction-retention=1',
        '--quota-backend-bytes=8589934592',
        // Throwaway data: skipping fsync keeps a 2-core machine responsive (as envtest does).
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      logFile: join(root, 'etcd', 'etcd.log'),
    },
  };
}

export function apiserverDef(
  bin: Binaries,
  cluster: SandboxCluster,
  files: ClusterFiles,
  port: number,
  etcdPort: number,
  extraArgs: string[] = [],
  underlay?: { address: string; hostsFile: string },
): ComponentDef {
  const address = underlay?.address ?? '127.0.0.1';
  const args = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    // Sibling prefixes, never nested: /clusters/<name>/registry.
    `--etcd-prefix=/clusters/${cluster.name}/registry`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${files.serverCert}`,
    `--tls-private-key-file=${files.serverKey}`,
    `--client-ca-file=${files.caCert}`,
    `--service-account-key-file=${files.saPub}`,
    `--service-account-signing-key-file=${files.saKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-cluster-ip-range=${cluster.serviceCIDR}`,
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    // A loopback advertise address makes the endpoints reconciler fail forever; with real
    // nodes the `kubernetes` Service points pods at the underlay address.
    `--endpoint-reconciler-type=${underlay ? 'lease' : 'none'}`,
    // Webhooks and aggregated APIs are called at their pods' addresses: the root namespace
    // has no kube-proxy to route a ClusterIP.
    ...(underlay ? ['--enable-aggregator-routing=true'] : []),
    `--kubelet-client-certificate=${files.adminCert}`,
    `--kubelet-client-key=${files.adminKey}`,
    '--profiling=false',
    '--max-requests-inflight=1000',
    '--max-mutating-requests-inflight=500',
    ...extraArgs,
  ];
  // The apiserver reaches kubelets by their Hostname address (kwok's nodes say localhost): with
  // real nodes it runs in a mount namespace of its own whose /etc/hosts names them, so neither
  // kind of node needs --kubelet-preferred-address-types and the machine's /etc/hosts is untouched.
  const command = underlay ? 'unshare' : bin['kube-apiserver'];
  const argv = underlay
    ? [
        '--mount',
        '--propagation',
        'private',
        '/bin/sh',
        '-c',
        'mount --bind "$0" /etc/hosts && exec "$@"',
        underlay.hostsFile,
        bin['kube-apiserver'],
        ...args,
      ]
    : args;
  return {
    name: 'kube-apiserver',
    cluster: cluster.name,
    port,
    hint: bin['kube-apiserver'],
    health: { url: `https://${address}:${port}/readyz`, insecure: true },
    spec: {
      name: `kube-apiserver (${cluster.name})`,
      command,
      args: argv,
      logFile: join(files.dir, 'logs', 'kube-apiserver.log'),
    },
  };
}

export function controllerManagerDef(
  bin: Binaries,
  cluster: SandboxCluster,
  files: ClusterFiles,
  port: number,
): ComponentDef {
  return {
    name: 'kube-controller-manager',
    cluster: cluster.name,
    port,
    hint: bin['kube-controller-manager'],
    health: { url: `https://127.0.0.1:${port}/healthz`, insecure: true },
    spec: {
      name: `kube-controller-manager (${cluster.name})`,
      command: bin['kube-controller-manager'],
      args: [
        `--kubeconfig=${files.kubeconfig}`,
        `--authentication-kubeconfig=${files.kubeconfig}`,
        `--authorization-kubeconfig=${files.kubeconfig}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        '--leader-elect=false',
        `--root-ca-file=${files.caCert}`,
        `--service-account-private-key-file=${files.saKey}`,
        '--use-service-account-credentials=true',
        // Nodes get spec.podCIDRs, and kwok gives pods addresses from them.
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${cluster.podCIDR}`,
        '--node-cidr-mask-size=24',
        `--service-cluster-ip-range=${cluster.serviceCIDR}`,
        '--kube-api-qps=500',
        '--kube-api-burst=1000',
      ],
      logFile: join(files.dir, 'logs', 'kube-controller-manager.log'),
    },
  };
}

export function schedulerConfig(kubeconfig: string, profiles: object[], extenders?: object[]): string {
  return stringify({
    apiVersion: 'kubescheduler.config.k8s.io/v1',
    kind: 'KubeSchedulerConfiguration',
    clientConnection: { kubeconfig, qps: 500, burst: 1000 },
    leaderElection: { leaderElect: false },
    profiles,
    ...(extenders ? { extenders } : {}),
  });
}

export function schedulerDef(
  bin: Binaries,
  cluster: SandboxCluster,
  files: ClusterFiles,
  port: number,
  configFile: string,
  name = 'kube-scheduler',
): ComponentDef {
  return {
    name,
    cluster: cluster.name,
    port,
    hint: bin['kube-scheduler'],
    health: { url: `https://127.0.0.1:${port}/healthz`, insecure: true },
    spec: {
      name: `${name} (${cluster.name})`,
      command: bin['kube-scheduler'],
      args: [
        `--config=${configFile}`,
        `--authentication-kubeconfig=${files.kubeconfig}`,
        `--authorization-kubeconfig=${files.kubeconfig}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
      ],
      logFile: join(files.dir, 'logs', `${name}.log`),
    },
  };
}

/** kwok only manages nodes with this annotation, so ClusterTree's virtual nodes stay ours. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export function kwokDef(
  bin: Binaries,
  cluster: SandboxCluster,
  files: ClusterFiles,
  port: number,
  configFiles: string[],
): ComponentDef {
  return {
    name: 'kwok',
    cluster: cluster.name,
    port,
    hint: bin.kwok,
    health: { url: `http://127.0.0.1:${port}/healthz` },
    spec: {
      name: `kwok (${cluster.name})`,
      command: bin.kwok,
      args: [
        `--kubeconfig=${files.kubeconfig}`,
        ...configFiles.map((f) => `--config=${f}`),
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        '--node-lease-duration-seconds=40',
        '--node-ip=127.0.0.1',
        '--node-name=localhost',
        `--node-port=${port}`,
        `--server-address=127.0.0.1:${port}`,
        `--tls-cert-file=${files.serverCert}`,
        `--tls-private-key-file=${files.serverKey}`,
      ],
      // An empty work dir keeps a user's ~/.kwok/kwok.yaml from being merged in.
      env: { KWOK_WORKDIR: join(files.dir, 'kwok') },
      logFile: join(files.dir, 'logs', 'kwok.log'),
    },
  };
}

/**
 * kwok answers `kubectl logs` from a file: every pod's containers "print" this file, so
 * log streaming can be tested end to end without a container runtime.
 */
export function kwokLogsConfig(logsFile: string): string {
  return stringify({
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'ClusterLogs',
    metadata: { name: 'sandbox-logs' },
    spec: { selector: {}, logs: [{ logsFile, follow: false }] },
  });
}

/**
 * `kubectl exec` into a kwok pod runs the command on this machine as the unprivileged user
 * nobody, in the system's temporary folder, with KOSMOS_SANDBOX_CLUSTER naming the cluster:
 * enough to see exec work end to end (ClusterTree proxies it from the host), and no more
 * power than a local user already has.
 */
export function kwokExecConfig(cluster: string, workDir: string): string {
  return stringify({
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'ClusterExec',
    metadata: { name: 'sandbox-exec' },
    spec: {
      selector: {},
      execs: [
        {
          local: {
            workDir,
            envs: [{ name: 'KOSMOS_SANDBOX_CLUSTER', value: cluster }],
            securityContext: { runAsUser: 65534, runAsGroup: 65534 },
          },
        },
      ],
    },
  });
}

export function redisDef(root: string, port: number): ComponentDef {
  return {
    name: 'redis',
    port,
    hint: 'redis-server',
    health: { url: `tcp://127.0.0.1:${port}` },
    spec: {
      name: 'redis',
      command: 'redis-server',
      args: [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        join(root, 'redis'),
      ],
      logFile: join(root, 'redis', 'redis.log'),
    },
  };
}
