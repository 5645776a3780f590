/**
 * `kosmosctl sandbox up|down|status`: a local multi-cluster Kubernetes on loopback.
 * `up` is idempotent: components already running and healthy are left alone; dead ones
 * are started again on their recorded ports; nodes and CRDs are only created when missing.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, DEFAULT_KUBE_SCHEDULER } from '../../api/constants.js';
import { KINDS } from '../../api/kinds.js';
import { crdFor } from '../../api/crds.js';
import type { Node } from '../../api/core.js';
import type { KubeObject } from '../../api/meta.js';
import { KubeClient, isAlreadyExists } from '../../common/kube.js';
import { KosmosError, UserError } from '../../common/errors.js';
import { projectRoot } from '../paths.js';
import { ensureBinaries } from './binaries.js';
import {
  KWOK_NODE_ANNOTATION,
  apiserverDef,
  clusterFiles,
  controllerManagerDef,
  etcdDef,
  kwokDef,
  kwokExecConfig,
  kwokLogsConfig,
  redisDef,
  schedulerConfig,
  schedulerDef,
  type ClusterFiles,
  type ComponentDef,
} from './control-plane.js';
import { renderKubeconfig } from './kubeconfig.js';
import { createCA, issueCert, newServiceAccountKey, type KeyPair } from './pki.js';
import { freePort, isAlive, portInUse, probe, startDetached, stopProcess, waitHealthy } from './processes.js';
import { readState, sandboxDir, writeState, type ComponentState, type SandboxState } from './state.js';
import { SUPERVISOR, holdSupervisor, releaseSupervisor, supervisorLog } from './supervisor.js';
import {
  defaultTopology,
  HOST_CLUSTER,
  kubernetesServiceIP,
  nodeIP,
  UNDERLAY_GATEWAY,
  type SandboxCluster,
  type Topology,
} from './topology.js';
import { hostSchedulerConfig, kosmosComponents, registerKosmos } from './kosmos-components.js';
import { apiserverAddress, recordMachineState, startRealNodes, stopRealNodes } from './node-runtime.js';
import { COREDNS_IMAGE, sandboxImages } from './sandbox-images.js';
import { ensureClusterDNS } from './cluster-dns.js';
import { REAL_NODE_LABEL, ensureUnderlay, realNodes, sandboxId, type RealNode } from './real-node.js';
import type { SandboxContext } from './context.js';

export interface UpOptions {
  topology?: Topology;
  bare?: boolean;
  dir?: string;
  progress?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function onPath(command: string): boolean {
  if (command.includes('/')) return existsSync(command);
  return (process.env['PATH'] ?? '').split(':').some((d) => d && existsSync(join(d, command)));
}

/**
 * What every cluster needs before `up` returns: cluster DNS where real nodes run pods, and the
 * MCS CRDs the MCS controller installs (a ServiceExport applied right after `up` must be known).
 */
async function finishClusters(ctx: SandboxContext): Promise<void> {
  const real = realNodes(ctx.dir, ctx.state.topology);
  const mcs = ctx.state.components.some((c) => c.name === 'mcs-controller');
  for (const cluster of ctx.state.topology.clusters) {
    const client = KubeClient.fromFile(ctx.files(cluster.name).kubeconfig);
    try {
      if (real.some((n) => n.cluster.name === cluster.name)) {
        ctx.progress(`${cluster.name}: waiting for cluster DNS`);
        await ensureClusterDNS(client, cluster, COREDNS_IMAGE);
      }
      if (mcs) await waitServed(client, MCS_KINDS, cluster.name, 120_000);
    } finally {
      client.close();
    }
  }
}

/** The apiservers' /etc/hosts: the real nodes by name (their Hostname address), and localhost. */
function hostsFileText(real: RealNode[]): string {
  return ['127.0.0.1 localhost', '::1 localhost', ...real.map((n) => `${n.ip} ${n.node.name}`), ''].join(
    '\n',
  );
}

function sameTopology(a: Topology, b: Topology): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function ensurePki(dir: string): KeyPair {
  const pki = join(dir, 'pki');
  mkdirSync(pki, { recursive: true });
  const caCrt = join(pki, 'ca.crt');
  const caKey = join(pki, 'ca.key');
  if (!existsSync(caCrt) || !existsSync(caKey)) {
    const ca = createCA('kosmos-sandbox-ca');
    writeFileSync(caKey, ca.keyPem, { mode: 0o600 });
    writeFileSync(caCrt, ca.certPem);
  }
  if (!existsSync(join(pki, 'sa.key'))) {
    const sa = newServiceAccountKey();
    writeFileSync(join(pki, 'sa.key'), sa.privatePem, { mode: 0o600 });
    writeFileSync(join(pki, 'sa.pub'), sa.publicPem);
  }
  return { certPem: readFileSync(caCrt, 'utf8'), keyPem: readFileSync(caKey, 'utf8') };
}

function ensureClusterPki(
  ca: KeyPair,
  files: ClusterFiles,
  cluster: SandboxCluster,
  apiPort: number,
  address: string,
): void {
  mkdirSync(join(files.dir, 'logs'), { recursive: true });
  mkdirSync(join(files.dir, 'kwok'), { recursive: true });
  if (!existsSync(files.serverCert)) {
    const server = issueCert(ca, {
      commonName: `kube-apiserver-${cluster.name}`,
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      // Pods reach it at the `kubernetes` Service's address, through kube-proxy.
      ips: ['127.0.0.1', '::1', UNDERLAY_GATEWAY, kubernetesServiceIP(cluster.serviceCIDR)],
      server: true,
    });
    writeFileSync(files.serverKey, server.keyPem, { mode: 0o600 });
    writeFileSync(files.serverCert, server.certPem);
  }
  if (!existsSync(files.adminCert)) {
    const admin = issueCert(ca, {
      commonName: 'kosmos-admin',
      organizations: ['system:masters'],
      client: true,
    });
    writeFileSync(files.adminKey, admin.keyPem, { mode: 0o600 });
    writeFileSync(files.adminCert, admin.certPem);
  }
  // Rewritten every time: the server port is the one recorded in the state.
  writeFileSync(
    files.kubeconfig,
    renderKubeconfig({
      cluster: cluster.name,
      server: `https://${address}:${apiPort}`,
      caPem: ca.certPem,
      certPem: readFileSync(files.adminCert, 'utf8'),
      keyPem: readFileSync(files.adminKey, 'utf8'),
    }),
    { mode: 0o600 },
  );
}

/** Starts `def` unless a healthy process of ours already serves it; returns whether it started one. */
async function ensureComponent(ctx: SandboxContext, def: ComponentDef): Promise<ComponentState> {
  const { state } = ctx;
  const same = (c: ComponentState) => c.name === def.name && c.cluster === def.cluster && c.node === def.node;
  const existing = state.components.find(same);
  if (existing && isAlive(existing.pid, def.hint)) return existing;
  const label = componentLabel(def);
  if (def.port !== 0 && (await portInUse(def.port))) {
    throw new UserError(
      `port ${def.port} for ${label} is in use by another process; free it or run 'kosmosctl sandbox down'`,
    );
  }
  mkdirSync(join(def.spec.logFile, '..'), { recursive: true });
  if (!onPath(def.spec.command)) {
    throw new UserError(
      def.name === 'redis'
        ? 'redis-server is not installed: apt-get install redis-server (or set REDIS_URL to a Redis of yours)'
        : `${def.spec.command} not found for ${label}`,
    );
  }
  ctx.progress(def.port !== 0 ? `starting ${label} on port ${def.port}` : `starting ${label}`);
  const pid = startDetached(def.spec);
  const record: ComponentState = {
    name: def.name,
    ...(def.cluster ? { cluster: def.cluster } : {}),
    ...(def.node ? { node: def.node } : {}),
    pid,
    port: def.port,
    command: def.spec.command,
    hint: def.hint,
    args: def.spec.args,
    ...(def.spec.env ? { env: def.spec.env } : {}),
    logFile: def.spec.logFile,
    health: def.health,
  };
  state.components = state.components.filter((c) => !same(c));
  state.components.push(record);
  writeState(state, ctx.dir);
  return record;
}

export function componentLabel(c: { name: string; cluster?: string; node?: string }): string {
  return c.node ? `${c.name} (${c.node})` : c.cluster ? `${c.name} (${c.cluster})` : c.name;
}

export async function waitComponent(c: ComponentState, timeoutMs = 180_000): Promise<void> {
  await waitHealthy(componentLabel(c), c.health, c.pid, c.logFile, timeoutMs);
}

/** A CRD `up` waits for: established, and its kind listable (servable), before returning. */
interface ServedKind {
  crd: string;
  apiVersion: string;
  kind: string;
}

const MCS_KINDS: ServedKind[] = [
  {
    crd: 'serviceexports.multicluster.x-k8s.io',
    apiVersion: 'multicluster.x-k8s.io/v1beta1',
    kind: 'ServiceExport',
  },
  {
    crd: 'serviceimports.multicluster.x-k8s.io',
    apiVersion: 'multicluster.x-k8s.io/v1beta1',
    kind: 'ServiceImport',
  },
];

async function waitServed(
  client: KubeClient,
  kinds: ServedKind[],
  cluster: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const k of kinds) {
    for (;;) {
      const crd = await client.getOrUndefined<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >('apiextensions.k8s.io/v1', 'CustomResourceDefinition', k.crd);
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new KosmosError(`${cluster}: CRD ${k.crd} not established after ${timeoutMs / 1000}s`);
      await sleep(200);
    }
  }
  // Established is not yet servable: until its storage is initialised a new CRD answers
  // 429. What `up` hands over must find every kind listable.
  for (const k of kinds) {
    for (;;) {
      try {
        await client.list(k.apiVersion, k.kind);
        break;
      } catch (e) {
        if (Date.now() > deadline)
          throw new KosmosError(`${cluster}: kind ${k.kind} not listable after ${timeoutMs / 1000}s`, {
            cause: e,
          });
        await sleep(200);
      }
    }
  }
}

async function applyCrds(client: KubeClient, cluster: string): Promise<void> {
  for (const info of KINDS) {
    await client.apply(crdFor(info) as never, 'kosmos-sandbox');
  }
  await waitServed(
    client,
    KINDS.map((info) => ({ crd: `${info.plural}.kosmos.io`, apiVersion: API_VERSION, kind: info.kind })),
    cluster,
  );
}

async function ensureNodes(client: KubeClient, cluster: SandboxCluster, real: RealNode[]): Promise<void> {
  const realByName = new Map(
    real.filter((r) => r.cluster.name === cluster.name).map((r) => [r.node.name, r]),
  );
  const existing = new Set((await client.list<Node>('v1', 'Node')).items.map((n) => n.metadata?.name));
  const queue = cluster.nodes.map((n, index) => ({ n, index })).filter(({ n }) => !existing.has(n.name));
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { n, index } = item;
      const real = realByName.get(n.name);
      const node: Node = real
        ? {
            // Created before its kubelet registers, with the pod CIDR its CNI config uses;
            // the kubelet adopts the object and reports its own status.
            apiVersion: 'v1',
            kind: 'Node',
            metadata: {
              name: n.name,
              labels: {
                'kubernetes.io/hostname': n.name,
                'kubernetes.io/os': 'linux',
                'kubernetes.io/arch': 'amd64',
                [REAL_NODE_LABEL]: n.runtime,
                ...n.labels,
              },
            },
            spec: { taints: n.taints, podCIDR: real.podCIDR, podCIDRs: [real.podCIDR] },
          }
        : {
            apiVersion: 'v1',
            kind: 'Node',
            metadata: {
              name: n.name,
              annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
              labels: {
                'kubernetes.io/hostname': n.name,
                'kubernetes.io/os': 'linux',
                'kubernetes.io/arch': 'amd64',
                type: 'kwok',
                ...n.labels,
              },
            },
            spec: { taints: n.taints },
            status: {
              capacity: n.capacity,
              allocatable: n.capacity,
              addresses: [{ type: 'InternalIP', address: nodeIP(cluster.index, index) }],
            },
          };
      try {
        await client.create(node);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
}

async function waitNodesReady(
  client: KubeClient,
  cluster: SandboxCluster,
  timeoutMs = 180_000,
): Promise<void> {
  const want = new Set(cluster.nodes.map((n) => n.name));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = (await client.list<Node>('v1', 'Node')).items;
    const ready = nodes.filter(
      (n) =>
        want.has(n.metadata?.name ?? '') &&
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    if (ready === want.size) return;
    if (Date.now() > deadline)
      throw new KosmosError(`${cluster.name}: ${ready}/${want.size} nodes Ready after ${timeoutMs / 1000}s`);
    await sleep(500);
  }
}

export async function sandboxUp(opts: UpOptions = {}): Promise<SandboxState> {
  const dir = opts.dir ?? sandboxDir();
  const progress = opts.progress ?? ((m: string) => process.stderr.write(`[sandbox] ${m}\n`));
  let state = readState(dir);
  if (state && opts.topology && !sameTopology(state.topology, opts.topology)) {
    throw new UserError(
      `a sandbox with another topology is up in ${dir}; run 'kosmosctl sandbox down' first`,
    );
  }
  if (state && opts.bare !== undefined && state.bare !== opts.bare) {
    throw new UserError(
      `a sandbox ${state.bare ? 'with --bare' : 'without --bare'} is up in ${dir}; run 'kosmosctl sandbox down' first`,
    );
  }
  const topology = state?.topology ?? opts.topology ?? defaultTopology();
  if (!state) {
    state = { version: 1, topology, bare: opts.bare ?? false, redisUrl: '', ports: {}, components: [] };
  }
  mkdirSync(dir, { recursive: true });
  writeState(state, dir);
  // The supervisor must not start what `up` is about to start: it pauses while `up` runs.
  holdSupervisor(dir);
  try {
    return await bringUp(dir, state, opts, progress);
  } finally {
    releaseSupervisor(dir);
  }
}

async function bringUp(
  dir: string,
  state: SandboxState,
  opts: UpOptions,
  progress: (m: string) => void,
): Promise<SandboxState> {
  const topology = state.topology;

  progress('locating control-plane binaries');
  const bin = await ensureBinaries();
  const ca = ensurePki(dir);
  const s = state;
  const ctx: SandboxContext = {
    dir,
    state: s,
    bin,
    files: (cluster) => clusterFiles(dir, cluster),
    port: async (key) => {
      let p = s.ports[key];
      if (!p) {
        const used = new Set(Object.values(s.ports));
        do p = await freePort();
        while (used.has(p));
        s.ports[key] = p;
        writeState(s, dir);
      }
      return p;
    },
    progress,
  };

  // Redis: the project's own unless REDIS_URL points at one.
  if (process.env['REDIS_URL']) {
    s.redisUrl = process.env['REDIS_URL'];
  } else {
    mkdirSync(join(dir, 'redis'), { recursive: true });
    const redis = await ensureComponent(ctx, redisDef(dir, await ctx.port('redis')));
    s.redisUrl = `redis://127.0.0.1:${redis.port}`;
  }

  mkdirSync(join(dir, 'etcd'), { recursive: true });
  const etcd = await ensureComponent(
    ctx,
    etcdDef(bin, dir, await ctx.port('etcd'), await ctx.port('etcd-peer')),
  );
  await waitComponent(etcd);
  for (const c of s.components.filter((x) => x.name === 'redis')) await waitComponent(c);

  // All apiservers at once: start-up is mostly waiting on etcd and OpenAPI building.
  const apiservers: ComponentState[] = [];
  const real = realNodes(dir, topology);
  const address = apiserverAddress(s);
  const hostsFile = join(dir, 'hosts');
  if (real.length > 0) {
    recordMachineState(s);
    writeState(s, dir);
    ensureUnderlay(sandboxId(dir));
    writeFileSync(hostsFile, hostsFileText(real));
  }
  for (const cluster of topology.clusters) {
    const files = ctx.files(cluster.name);
    const apiPort = await ctx.port(`${cluster.name}/kube-apiserver`);
    ensureClusterPki(ca, files, cluster, apiPort, address);
    apiservers.push(
      await ensureComponent(
        ctx,
        apiserverDef(
          bin,
          cluster,
          files,
          apiPort,
          etcd.port,
          [],
          real.length > 0 ? { address, hostsFile } : undefined,
        ),
      ),
    );
  }
  progress(`waiting for ${apiservers.length} kube-apiservers`);
  await Promise.all(apiservers.map((c) => waitComponent(c)));

  const stagesFile = join(projectRoot(), 'config', 'kwok-stages.yaml');
  for (const cluster of topology.clusters) {
    const client = KubeClient.fromFile(ctx.files(cluster.name).kubeconfig);
    try {
      await applyCrds(client, cluster.name);
      await ensureNodes(client, cluster, real);
    } finally {
      client.close();
    }
  }

  // Kosmos components only need the apiservers and Redis; starting them before the
  // schedulers means the host scheduler never calls an extender that is not there yet.
  const kosmos: ComponentState[] = [];
  if (!s.bare) {
    for (const def of await kosmosComponents(ctx)) kosmos.push(await ensureComponent(ctx, def));
    await Promise.all(kosmos.map((c) => waitComponent(c)));
  }

  const started: ComponentState[] = [];
  for (const cluster of topology.clusters) {
    const files = ctx.files(cluster.name);
    let schedFile = cluster.name === HOST_CLUSTER ? await hostSchedulerConfig(ctx) : undefined;
    if (!schedFile) {
      schedFile = join(files.dir, 'kube-scheduler.yaml');
      writeFileSync(
        schedFile,
        schedulerConfig(files.kubeconfig, [{ schedulerName: DEFAULT_KUBE_SCHEDULER }]),
      );
    }
    started.push(
      await ensureComponent(
        ctx,
        controllerManagerDef(bin, cluster, files, await ctx.port(`${cluster.name}/kcm`)),
      ),
    );
    started.push(
      await ensureComponent(
        ctx,
        schedulerDef(bin, cluster, files, await ctx.port(`${cluster.name}/scheduler`), schedFile),
      ),
    );
    // kwok simulates the nodes without a runtime: a cluster of real nodes only needs none.
    if (cluster.nodes.some((n) => n.runtime === 'kwok')) {
      const logsFile = join(files.dir, 'kwok', 'container.log');
      // CRI log format, which kwok parses: time, stream, tag (F = full line), message.
      writeFileSync(
        logsFile,
        `${new Date().toISOString()} stdout F kosmos sandbox: a container of cluster ${cluster.name}\n`,
      );
      const logsConfig = join(files.dir, 'kwok', 'logs.yaml');
      writeFileSync(logsConfig, kwokLogsConfig(logsFile));
      const execConfig = join(files.dir, 'kwok', 'exec.yaml');
      writeFileSync(execConfig, kwokExecConfig(cluster.name, tmpdir()));
      const kwokPort = await ctx.port(`${cluster.name}/kwok`);
      started.push(
        await ensureComponent(
          ctx,
          kwokDef(bin, cluster, files, kwokPort, [stagesFile, logsConfig, execConfig]),
        ),
      );
    }
  }
  await Promise.all(started.map((c) => waitComponent(c)));
  await startRealNodes(
    ctx,
    ca,
    (def) => ensureComponent(ctx, def),
    (c) => waitComponent(c),
    () => sandboxImages(progress),
  );
  progress('waiting for nodes to be Ready');
  for (const cluster of topology.clusters) {
    const client = KubeClient.fromFile(ctx.files(cluster.name).kubeconfig);
    try {
      await waitNodesReady(client, cluster);
    } finally {
      client.close();
    }
  }

  if (!s.bare) await registerKosmos(ctx);
  await finishClusters(ctx);
  await ensureComponent(ctx, supervisorDef(dir));
  writeState(s, dir);
  progress(`up: ${topology.clusters.map((c) => `${c.name} (${c.nodes.length} nodes)`).join(', ')}`);
  return s;
}

export interface ComponentStatus {
  component: string;
  cluster: string;
  node: string;
  restarts: number;
  pid: number;
  port: number;
  running: boolean;
  healthy: boolean;
}

export async function sandboxStatus(dir = sandboxDir()): Promise<ComponentStatus[] | undefined> {
  const state = readState(dir);
  if (!state) return undefined;
  return await Promise.all(
    state.components.map(async (c) => {
      const running = isAlive(c.pid, c.hint ?? c.command);
      return {
        component: c.name,
        cluster: c.cluster ?? '-',
        node: c.node ?? '-',
        restarts: c.restarts ?? 0,
        pid: c.pid,
        port: c.port,
        running,
        healthy: running && (await probe(c.health)),
      };
    }),
  );
}

function supervisorDef(dir: string): ComponentDef {
  const cli = join(projectRoot(), 'dist', 'cli', 'main.js');
  return {
    name: SUPERVISOR,
    port: 0,
    hint: `${cli} sandbox supervise`,
    health: { url: 'pid://' },
    spec: {
      name: SUPERVISOR,
      command: process.execPath,
      args: [cli, 'sandbox', 'supervise'],
      env: { KOSMOS_SANDBOX_DIR: dir },
      logFile: supervisorLog(dir),
    },
  };
}

/** The order `down` stops components in: the supervisor first, the clusters' stores last. */
function stopOrder(c: ComponentState): number {
  if (c.name === SUPERVISOR) return -1;
  if (c.name === 'redis') return 4;
  if (c.name === 'etcd') return 3;
  if (c.name === 'kube-apiserver') return 2;
  if (c.name.startsWith('kube-')) return 1;
  return 0;
}

/**
 * Stops every process the sandbox started (newest first), takes its real nodes apart (their
 * processes, mounts, cgroups, network namespaces, the underlay, the sysctls their kubelets
 * changed), checks its ports, removes its files.
 */
export async function sandboxDown(
  opts: { dir?: string; progress?: (m: string) => void } = {},
): Promise<{ stopped: number; busyPorts: number[]; left: string[] }> {
  const dir = opts.dir ?? sandboxDir();
  const progress = opts.progress ?? ((m: string) => process.stderr.write(`[sandbox] ${m}\n`));
  const state = readState(dir);
  if (!state) {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    return { stopped: 0, busyPorts: [], left: [] };
  }
  let stopped = 0;
  const stop = async (c: ComponentState) => {
    if (!isAlive(c.pid, c.hint ?? c.command)) return;
    progress(`stopping ${componentLabel(c)} (pid ${c.pid})`);
    await stopProcess(c.pid, c.hint ?? c.command);
    stopped++;
  };
  // One level at a time, in parallel within a level: an apiserver may take its whole grace period.
  const comps = state.components.filter((c) => c.node === undefined);
  const levels = async (test: (o: number) => boolean) => {
    const order = [...new Set(comps.map(stopOrder).filter(test))].sort((a, b) => a - b);
    for (const l of order) await Promise.all(comps.filter((c) => stopOrder(c) === l).map(stop));
  };
  await levels((o) => o <= 0);
  stopped += state.components.filter(
    (c) => c.node !== undefined && isAlive(c.pid, c.hint ?? c.command),
  ).length;
  const left = await stopRealNodes(state, dir, progress);
  await levels((o) => o > 0);
  const busyPorts: number[] = [];
  for (const c of state.components) if (c.port !== 0 && (await portInUse(c.port))) busyPorts.push(c.port);
  rmSync(dir, { recursive: true, force: true });
  return { stopped, busyPorts, left };
}

export { HOST_CLUSTER };
