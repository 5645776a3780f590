/**
 * Real nodes: each one its own network namespace on the sandbox's underlay bridge, with its own
 * containerd (runc, CNI bridge + host-local from the node's pod CIDR), kubelet and kube-proxy,
 * all started in that namespace with `nsenter --net` (not `ip netns exec`, whose private mount
 * namespace would hide the kubelet's volume mounts from containerd) and inside a cgroup of the
 * node's own, so teardown finds every process of the node, shims and containers included.
 *
 * Names are derived from a short id of the sandbox folder, so two sandboxes never share a
 * network namespace, cgroup, CNI network name or socket.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Binaries } from './binaries.js';
import type { ClusterFiles, ComponentDef } from './control-plane.js';
import { issueCert, type KeyPair } from './pki.js';
import { renderKubeconfig } from './kubeconfig.js';
import { KosmosError } from '../../common/errors.js';
import { cgroupProcsFiles, createCgroup, destroyCgroup, run, succeeds, unmountUnder } from './system.js';
import {
  UNDERLAY_GATEWAY,
  UNDERLAY_PREFIX,
  clusterDNSIP,
  nodeIP,
  realNodePodCIDR,
  type SandboxCluster,
  type SandboxNode,
  type Topology,
} from './topology.js';

/** The label the sandbox puts on its real nodes, so cluster add-ons can be kept off kwok's. */
export const REAL_NODE_LABEL = 'sandbox.kosmos.io/runtime';
/** Inside every node's namespace the underlay interface is eth0, as on a cloud VM. */
export const NODE_NIC = 'eth0';
export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
export const KUBE_PROXY_HEALTHZ_PORT = 10256;

export function sandboxId(dir: string): string {
  return createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 6);
}

export interface RealNode {
  cluster: SandboxCluster;
  node: SandboxNode;
  /** Index of the node among all nodes of its cluster (its InternalIP). */
  index: number;
  /** Index among the real nodes of its cluster (its pod CIDR). */
  clusterOrdinal: number;
  /** Index among all real nodes of the sandbox (its device and namespace names). */
  ordinal: number;
  ip: string;
  podCIDR: string;
  netns: string;
  hostVeth: string;
  cniNetwork: string;
  cgroup: string;
  dir: string;
  runDir: string;
  containerdSocket: string;
}

export function underlayBridge(sid: string): string {
  return `ksb-${sid}`;
}

/** Where a sandbox keeps sockets and runtime state: short, as unix socket paths must be. */
export function runDirFor(sid: string): string {
  return `/run/kosmos-sandbox/${sid}`;
}

export function realNodes(dir: string, topology: Topology): RealNode[] {
  const sid = sandboxId(dir);
  const out: RealNode[] = [];
  for (const cluster of topology.clusters) {
    let clusterOrdinal = 0;
    cluster.nodes.forEach((node, index) => {
      if (node.runtime === 'kwok') return;
      const ordinal = out.length;
      const runDir = join(runDirFor(sid), String(ordinal));
      out.push({
        cluster,
        node,
        index,
        clusterOrdinal,
        ordinal,
        ip: nodeIP(cluster.index, index),
        podCIDR: realNodePodCIDR(cluster.index, clusterOrdinal++),
        netns: `ksbx-${sid}-${ordinal}`,
        hostVeth: `ksv${sid}n${ordinal}`,
        cniNetwork: `ksbx-${sid}-${ordinal}`,
        cgroup: `/kosmos-sbx-${sid}-${ordinal}`,
        dir: join(dir, cluster.name, 'nodes', node.name),
        runDir,
        containerdSocket: join(runDir, 'containerd.sock'),
      });
    });
  }
  return out;
}

const nsenter = (n: RealNode, cmd: string, args: string[], allowFail = false) =>
  run('nsenter', [`--net=/run/netns/${n.netns}`, '--', cmd, ...args], { allowFail });

function linkExists(name: string, netns?: string): boolean {
  const args = netns ? ['-n', netns, 'link', 'show', name] : ['link', 'show', name];
  return run('ip', args, { allowFail: true }).trim() !== '';
}

/**
 * The underlay: one bridge in the root namespace holding UNDERLAY_GATEWAY, the address the
 * apiservers serve on. The root namespace does not forward (net.ipv4.ip_forward stays as the
 * machine has it) and the nodes have no default route, so nothing but ClusterLink can carry a
 * packet from one cluster's pods to another's.
 */
export function ensureUnderlay(sid: string): void {
  const br = underlayBridge(sid);
  if (!linkExists(br)) {
    const holder = run('ip', ['-o', 'addr', 'show', 'to', `${UNDERLAY_GATEWAY}/32`], {
      allowFail: true,
    }).trim();
    if (holder) {
      throw new KosmosError(
        `another sandbox with real nodes is up (${holder.split(/\s+/)[1]} holds ${UNDERLAY_GATEWAY}); run 'kosmosctl sandbox down' in its folder first`,
      );
    }
    run('ip', ['link', 'add', br, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${UNDERLAY_GATEWAY}/${UNDERLAY_PREFIX}`, 'dev', br]);
  }
  run('ip', ['link', 'set', br, 'up']);
}

export function removeUnderlay(sid: string): void {
  const br = underlayBridge(sid);
  if (linkExists(br)) run('ip', ['link', 'del', br], { allowFail: true });
}

/**
 * The node's namespace and its underlay leg: eth0 with the node's address, routes to the pod
 * CIDRs of the other real nodes of its cluster, forwarding on, and masquerading of pod traffic
 * that leaves for the underlay (the apiservers) — never of pod-to-pod traffic, so a server sees
 * its client's pod address, within the cluster and across ClusterLink's tunnels.
 */
export function ensureNodeNetwork(n: RealNode, clusterNodes: RealNode[], sid: string): void {
  if (!existsSync(`/run/netns/${n.netns}`)) run('ip', ['netns', 'add', n.netns]);
  if (!linkExists(NODE_NIC, n.netns)) {
    if (linkExists(n.hostVeth)) run('ip', ['link', 'del', n.hostVeth]);
    const peer = `ksp${sid}n${n.ordinal}`;
    run('ip', ['link', 'add', n.hostVeth, 'type', 'veth', 'peer', 'name', peer]);
    run('ip', ['link', 'set', peer, 'netns', n.netns]);
    run('ip', ['-n', n.netns, 'link', 'set', peer, 'name', NODE_NIC]);
    run('ip', ['-n', n.netns, 'addr', 'add', `${n.ip}/${UNDERLAY_PREFIX}`, 'dev', NODE_NIC]);
  }
  run('ip', ['link', 'set', n.hostVeth, 'master', underlayBridge(sid), 'up']);
  run('ip', ['-n', n.netns, 'link', 'set', 'lo', 'up']);
  run('ip', ['-n', n.netns, 'link', 'set', NODE_NIC, 'up']);
  for (const other of clusterNodes) {
    if (other === n) continue;
    run('ip', ['-n', n.netns, 'route', 'replace', other.podCIDR, 'via', other.ip, 'dev', NODE_NIC]);
  }
  nsenter(n, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  const rule = ['-s', n.cluster.podCIDR, '!', '-d', n.cluster.podCIDR, '-o', NODE_NIC, '-j', 'MASQUERADE'];
  const ns = [`--net=/run/netns/${n.netns}`, '--', 'iptables', '-t', 'nat'];
  if (!succeeds('nsenter', [...ns, '-C', 'POSTROUTING', ...rule]))
    run('nsenter', [...ns, '-A', 'POSTROUTING', ...rule]);
}

/** The root namespace reaches the host cluster's pods (the apiserver calls webhooks in pods). */
export function ensureRootRoute(n: RealNode, sid: string): void {
  run('ip', ['route', 'replace', n.podCIDR, 'via', n.ip, 'dev', underlayBridge(sid)]);
}

export function removeNodeNetwork(n: RealNode): void {
  if (existsSync(`/run/netns/${n.netns}`)) run('ip', ['netns', 'del', n.netns], { allowFail: true });
  if (linkExists(n.hostVeth)) run('ip', ['link', 'del', n.hostVeth], { allowFail: true });
}

export interface NodeFiles {
  containerdConfig: string;
  cniConfDir: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeletRoot: string;
  kubeletCertDir: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  resolvConf: string;
  logs: string;
}

export function nodeFiles(n: RealNode): NodeFiles {
  return {
    containerdConfig: join(n.dir, 'containerd', 'config.toml'),
    cniConfDir: join(n.dir, 'cni', 'net.d'),
    kubeletConfig: join(n.dir, 'kubelet', 'config.yaml'),
    kubeletKubeconfig: join(n.dir, 'kubelet', 'kubeconfig'),
    kubeletRoot: join(n.dir, 'kubelet', 'root'),
    kubeletCertDir: join(n.dir, 'kubelet', 'pki'),
    kubeProxyConfig: join(n.dir, 'kube-proxy', 'config.yaml'),
    kubeProxyKubeconfig: join(n.dir, 'kube-proxy', 'kubeconfig'),
    resolvConf: join(n.dir, 'resolv.conf'),
    logs: join(n.dir, 'logs'),
  };
}

const toml = (s: string) => JSON.stringify(s);

export function containerdConfig(n: RealNode, pauseImage: string): string {
  const f = nodeFiles(n);
  return `# containerd of sandbox node ${n.node.name} (${n.cluster.name}); written by kosmosctl sandbox
version = 3
root = ${toml(join(n.dir, 'containerd', 'root'))}
state = ${toml(join(n.runDir, 'state'))}

[grpc]
  address = ${toml(n.containerdSocket)}

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${toml(pauseImage)}
  [plugins.'io.containerd.cri.v1.runtime']
    # runc cannot lower oom_score_adj here (no CAP_SYS_RESOURCE): without this every sandbox fails.
    restrict_oom_score_adj = true
    # Pod network namespaces under this node's state dir, never in the machine's /run/netns.
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    enable_cdi = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = ${toml(f.cniConfDir)}
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
  [plugins.'io.containerd.internal.v1.opt']
    path = ${toml(join(n.dir, 'containerd', 'opt'))}
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  # ctr images import goes through the transfer service, which needs this plugin: keep its
  # folder the node's own instead of /opt/containerd.
  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = ${toml(join(n.dir, 'containerd', 'image-verifier'))}
`;
}

/** CNI: a bridge with a network name of this node's own (libcni caches results by name). */
export function cniConfig(n: RealNode): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: n.cniNetwork,
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: n.podCIDR }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(n.dir, 'cni', 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(n: RealNode, caFile: string): string {
  const f = nodeFiles(n);
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The machine has cgroup v1; kubelet >= 1.35 refuses it unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: n.cgroup,
    containerRuntimeEndpoint: `unix://${n.containerdSocket}`,
    imageServiceEndpoint: `unix://${n.containerdSocket}`,
    address: n.ip,
    port: KUBELET_PORT,
    healthzBindAddress: n.ip,
    healthzPort: KUBELET_HEALTHZ_PORT,
    readOnlyPort: 0,
    tlsCertFile: join(f.kubeletCertDir, 'kubelet.crt'),
    tlsPrivateKeyFile: join(f.kubeletCertDir, 'kubelet.key'),
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: caFile },
    },
    authorization: { mode: 'Webhook' },
    podLogsDir: join(n.dir, 'pod-logs'),
    clusterDomain: 'cluster.local',
    clusterDNS: [clusterDNSIP(n.cluster.serviceCIDR)],
    resolvConf: f.resolvConf,
    failSwapOn: false,
    serializeImagePulls: false,
    // Many nodes share one disk: evict only when it is really full.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 99,
    imageGCLowThresholdPercent: 98,
    maxPods: 110,
    shutdownGracePeriod: '0s',
    nodeStatusReportFrequency: '10s',
    nodeStatusUpdateFrequency: '10s',
  });
}

export function kubeProxyConfig(n: RealNode): string {
  const f = nodeFiles(n);
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: f.kubeProxyKubeconfig },
    mode: 'iptables',
    hostnameOverride: n.node.name,
    bindAddress: n.ip,
    clusterCIDR: n.cluster.podCIDR,
    nodePortAddresses: ['primary'],
    healthzBindAddress: `${n.ip}:${KUBE_PROXY_HEALTHZ_PORT}`,
    metricsBindAddress: `${n.ip}:10249`,
    // nf_conntrack sysctls are global: leave them as the machine has them.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  });
}

/** kube-proxy exits when its configuration file changes: rewrite a file only when it differs. */
function writeIfChanged(file: string, text: string): void {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  writeFileSync(file, text);
}

/** Writes every file the node's processes read (certificates only once). */
export function writeNodeFiles(
  n: RealNode,
  ca: KeyPair,
  cluster: ClusterFiles,
  server: string,
  pauseImage: string,
): void {
  const f = nodeFiles(n);
  for (const d of [
    f.cniConfDir,
    f.kubeletRoot,
    f.kubeletCertDir,
    f.logs,
    join(n.dir, 'kube-proxy'),
    join(n.dir, 'pod-logs'),
    join(n.dir, 'containerd'),
    n.runDir,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  writeIfChanged(f.containerdConfig, containerdConfig(n, pauseImage));
  writeIfChanged(join(f.cniConfDir, '10-sandbox.conflist'), cniConfig(n));
  writeIfChanged(
    f.resolvConf,
    '# sandbox node: no upstream DNS (the machine has no network)\noptions ndots:5\n',
  );
  writeIfChanged(f.kubeletConfig, kubeletConfig(n, cluster.caCert));
  writeIfChanged(f.kubeProxyConfig, kubeProxyConfig(n));
  const serving = join(f.kubeletCertDir, 'kubelet.crt');
  if (!existsSync(serving)) {
    const s = issueCert(ca, { commonName: n.node.name, dnsNames: [n.node.name], ips: [n.ip], server: true });
    writeFileSync(join(f.kubeletCertDir, 'kubelet.key'), s.keyPem, { mode: 0o600 });
    writeFileSync(serving, s.certPem);
  }
  const identity = (file: string, user: string, commonName: string, organizations: string[] = []) => {
    if (existsSync(file)) return;
    const c = issueCert(ca, { commonName, organizations, client: true });
    const kubeconfig = renderKubeconfig({
      cluster: n.cluster.name,
      server,
      caPem: ca.certPem,
      certPem: c.certPem,
      keyPem: c.keyPem,
      user,
    });
    writeFileSync(file, kubeconfig, { mode: 0o600 });
  };
  // The node's own identity, so the Node authorizer applies as on a real cluster.
  identity(f.kubeletKubeconfig, n.node.name, `system:node:${n.node.name}`, ['system:nodes']);
  // system:kube-proxy is bound to system:node-proxier by the apiserver's default RBAC.
  identity(f.kubeProxyKubeconfig, 'kube-proxy', 'system:kube-proxy');
}

/**
 * A process of the node: joins the node's cgroup, then enters its network namespace; `exec`
 * keeps one pid from the shell to the program, so the recorded pid is the program's.
 */
function nodeProcess(
  n: RealNode,
  name: string,
  command: string,
  args: string[],
  health: string,
  env: Record<string, string> = {},
): ComponentDef {
  const cg = join(n.cgroup, 'system');
  const script = `for f in ${cgroupProcsFiles(cg).join(' ')}; do echo $$ > "$f"; done; exec nsenter --net=/run/netns/${n.netns} -- "$@"`;
  return {
    name,
    cluster: n.cluster.name,
    node: n.node.name,
    port: 0,
    hint: command,
    health: { url: health },
    spec: {
      name: `${name} (${n.node.name})`,
      command: '/bin/sh',
      args: ['-c', script, 'sh', command, ...args],
      env,
      logFile: join(nodeFiles(n).logs, `${name}.log`),
    },
  };
}

export function prepareNodeCgroup(n: RealNode): void {
  createCgroup(n.cgroup);
  createCgroup(join(n.cgroup, 'system'));
}

export function containerdDef(bin: Binaries, n: RealNode): ComponentDef {
  const binDir = resolve(bin.containerd, '..');
  return nodeProcess(
    n,
    'containerd',
    bin.containerd,
    ['--config', nodeFiles(n).containerdConfig, '--log-level', 'warn'],
    `unix://${n.containerdSocket}`,
    {
      // The shim is found on PATH, next to containerd; runc in /usr/sbin.
      PATH: `${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    },
  );
}

export function kubeletDef(bin: Binaries, n: RealNode): ComponentDef {
  const f = nodeFiles(n);
  return nodeProcess(
    n,
    'kubelet',
    bin.kubelet,
    [
      `--config=${f.kubeletConfig}`,
      `--kubeconfig=${f.kubeletKubeconfig}`,
      `--root-dir=${f.kubeletRoot}`,
      // --cert-dir defaults to /var/lib/kubelet/pki whatever --root-dir says.
      `--cert-dir=${f.kubeletCertDir}`,
      `--hostname-override=${n.node.name}`,
      `--node-ip=${n.ip}`,
      '--v=1',
    ],
    `http://${n.ip}:${KUBELET_HEALTHZ_PORT}/healthz`,
  );
}

export function kubeProxyDef(bin: Binaries, n: RealNode): ComponentDef {
  return nodeProcess(
    n,
    'kube-proxy',
    bin['kube-proxy'],
    [`--config=${nodeFiles(n).kubeProxyConfig}`],
    `http://${n.ip}:${KUBE_PROXY_HEALTHZ_PORT}/healthz`,
  );
}

/**
 * Takes a node apart once its kubelet and kube-proxy are stopped: every process in its cgroup
 * (containerd, shims, containers) killed, its mounts (the kubelet's bind-mounted root, pod
 * volumes, container root filesystems, pod network namespaces) unmounted, its cgroups, network
 * namespace and veth removed, libcni's cached results for its network deleted.
 */
export function destroyNode(n: RealNode): string[] {
  const left: string[] = [];
  left.push(...destroyCgroup(n.cgroup));
  left.push(...unmountUnder([n.dir, n.runDir]));
  removeNodeNetwork(n);
  const cache = '/var/lib/cni/results';
  if (existsSync(cache)) {
    for (const f of readdirSync(cache))
      if (f.startsWith(`${n.cniNetwork}-`)) rmSync(join(cache, f), { force: true });
  }
  rmSync(n.runDir, { recursive: true, force: true });
  return left;
}
