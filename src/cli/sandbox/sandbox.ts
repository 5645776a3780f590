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
import { defaultTopology, HOST_CLUSTER, nodeIP, type SandboxCluster, type Topology } from './topology.js';
import { hostSchedulerConfig, kosmosComponents, registerKosmos } from './kosmos-components.js';
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

function ensureClusterPki(ca: KeyPair, files: ClusterFiles, cluster: string, apiPort: number): void {
  mkdirSync(join(files.dir, 'logs'), { recursive: true });
  mkdirSync(join(files.dir, 'kwok'), { recursive: true });
  if (!existsSync(files.serverCert)) {
    const server = issueCert(ca, {
      commonName: `kube-apiserver-${cluster}`,
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      ips: ['127.0.0.1', '::1'],
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
      cluster,
      server: `https://127.0.0.1:${apiPort}`,
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
  const existing = state.components.find((c) => c.name === def.name && c.cluster === def.cluster);
  if (existing && isAlive(existing.pid, def.hint)) return existing;
  const label = def.cluster ? `${def.name} (${def.cluster})` : def.name;
  if (await portInUse(def.port)) {
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
  ctx.progress(`starting ${label} on 127.0.0.1:${def.port}`);
  const pid = startDetached(def.spec);
  const record: ComponentState = {
    name: def.name,
    ...(def.cluster ? { cluster: def.cluster } : {}),
    pid,
    port: def.port,
    command: def.spec.command,
    args: def.spec.args,
    ...(def.spec.env ? { env: def.spec.env } : {}),
    logFile: def.spec.logFile,
    health: def.health,
  };
  state.components = state.components.filter((c) => !(c.name === def.name && c.cluster === def.cluster));
  state.components.push(record);
  writeState(state, ctx.dir);
  return record;
}

export async function waitComponent(c: ComponentState, timeoutMs = 180_000): Promise<void> {
  await waitHealthy(c.cluster ? `${c.name} (${c.cluster})` : c.name, c.health, c.pid, c.logFile, timeoutMs);
}

async function applyCrds(client: KubeClient): Promise<void> {
  for (const info of KINDS) {
    await client.apply(crdFor(info) as never, 'kosmos-sandbox');
  }
  const deadline = Date.now() + 60_000;
  for (const info of KINDS) {
    for (;;) {
      const crd = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >('apiextensions.k8s.io/v1', 'CustomResourceDefinition', `${info.plural}.kosmos.io`);
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new KosmosError(`CRD ${info.plural}.kosmos.io not established after 60s`);
      await sleep(200);
    }
  }
  // Established is not yet servable: until its storage is initialised a new CRD answers
  // 429. Components started next must find every kind listable.
  for (const info of KINDS) {
    for (;;) {
      try {
        await client.list(API_VERSION, info.kind);
        break;
      } catch (e) {
        if (Date.now() > deadline)
          throw new KosmosError(`kind ${info.kind} not listable after 60s`, { cause: e });
        await sleep(200);
      }
    }
  }
}

async function ensureNodes(client: KubeClient, cluster: SandboxCluster): Promise<void> {
  const existing = new Set((await client.list<Node>('v1', 'Node')).items.map((n) => n.metadata?.name));
  const queue = cluster.nodes.map((n, index) => ({ n, index })).filter(({ n }) => !existing.has(n.name));
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { n, index } = item;
      const node: Node = {
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
  for (const cluster of topology.clusters) {
    const files = ctx.files(cluster.name);
    const apiPort = await ctx.port(`${cluster.name}/kube-apiserver`);
    ensureClusterPki(ca, files, cluster.name, apiPort);
    apiservers.push(await ensureComponent(ctx, apiserverDef(bin, cluster, files, apiPort, etcd.port)));
  }
  progress(`waiting for ${apiservers.length} kube-apiservers`);
  await Promise.all(apiservers.map((c) => waitComponent(c)));

  const stagesFile = join(projectRoot(), 'config', 'kwok-stages.yaml');
  for (const cluster of topology.clusters) {
    const client = KubeClient.fromFile(ctx.files(cluster.name).kubeconfig);
    try {
      await applyCrds(client);
      await ensureNodes(client, cluster);
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
  await Promise.all(started.map((c) => waitComponent(c)));
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
  writeState(s, dir);
  progress(`up: ${topology.clusters.map((c) => `${c.name} (${c.nodes.length} nodes)`).join(', ')}`);
  return s;
}

export interface ComponentStatus {
  component: string;
  cluster: string;
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
      const running = isAlive(c.pid, c.command);
      return {
        component: c.name,
        cluster: c.cluster ?? '-',
        pid: c.pid,
        port: c.port,
        running,
        healthy: running && (await probe(c.health)),
      };
    }),
  );
}

/** Stops every process the sandbox started (newest first), checks its ports, removes its files. */
export async function sandboxDown(
  opts: { dir?: string; progress?: (m: string) => void } = {},
): Promise<{ stopped: number; busyPorts: number[] }> {
  const dir = opts.dir ?? sandboxDir();
  const progress = opts.progress ?? ((m: string) => process.stderr.write(`[sandbox] ${m}\n`));
  const state = readState(dir);
  if (!state) {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    return { stopped: 0, busyPorts: [] };
  }
  const comps = [...state.components].reverse();
  let stopped = 0;
  // Kosmos components and kwok first, then the control planes, etcd and Redis last.
  const order = (c: ComponentState) =>
    c.name === 'redis'
      ? 4
      : c.name === 'etcd'
        ? 3
        : c.name === 'kube-apiserver'
          ? 2
          : c.name.startsWith('kube-')
            ? 1
            : 0;
  comps.sort((a, b) => order(a) - order(b));
  for (const c of comps) {
    if (isAlive(c.pid, c.command)) {
      progress(`stopping ${c.cluster ? `${c.name} (${c.cluster})` : c.name} (pid ${c.pid})`);
      await stopProcess(c.pid, c.command);
      stopped++;
    }
  }
  const busyPorts: number[] = [];
  for (const c of state.components) if (await portInUse(c.port)) busyPorts.push(c.port);
  rmSync(dir, { recursive: true, force: true });
  return { stopped, busyPorts };
}

export { HOST_CLUSTER };
