/**
 * `sandbox up` / `down` for the real nodes: the underlay, each node's network, files and
 * processes, the images every node needs, and the teardown that puts the machine back.
 */
import { existsSync, rmSync, rmdirSync } from 'node:fs';
import { KosmosError, UserError } from '../../common/errors.js';
import type { SandboxContext } from './context.js';
import type { ComponentDef } from './control-plane.js';
import { importImageArchive, inspectImageArchive, listImages } from './node-images.js';
import { PAUSE_IMAGE } from './sandbox-images.js';
import { stopProcess, isAlive } from './processes.js';
import {
  containerdDef,
  destroyNode,
  ensureNodeNetwork,
  ensureRootRoute,
  ensureUnderlay,
  kubeletDef,
  kubeProxyDef,
  prepareNodeCgroup,
  realNodes,
  removeUnderlay,
  runDirFor,
  sandboxId,
  writeNodeFiles,
  type RealNode,
} from './real-node.js';
import type { ComponentState, SandboxState } from './state.js';
import { KUBELET_GLOBAL_SYSCTLS, readSysctls, restoreSysctls } from './system.js';
import { HOST_CLUSTER, UNDERLAY_GATEWAY, hasRealNodes } from './topology.js';
import type { KeyPair } from './pki.js';

/**
 * Paths on the machine, outside the sandbox's folders, that kubelets and libcni create whatever
 * they are told (the device-plugin and pod-resources sockets, libcni's result cache, the
 * container log links, shim sockets): removed by `down` when they did not exist before.
 */
const SHARED_PATHS = [
  '/var/lib/kubelet',
  '/var/lib/cni',
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd',
];

export type EnsureComponent = (def: ComponentDef) => Promise<ComponentState>;
export type WaitComponent = (c: ComponentState) => Promise<void>;

/** Images (OCI or docker archives) every real node gets, pause first. */
export type ImageSource = () => Promise<{ ref: string; file: string; manifestDigest: string }[]>;

export function apiserverAddress(state: SandboxState): string {
  return hasRealNodes(state.topology) ? UNDERLAY_GATEWAY : '127.0.0.1';
}

/** Machine state to record before the first real node starts, so `down` can put it back. */
export function recordMachineState(state: SandboxState): void {
  if (!hasRealNodes(state.topology)) return;
  state.sysctls ??= readSysctls(KUBELET_GLOBAL_SYSCTLS);
  state.createdPaths ??= SHARED_PATHS.filter((p) => !existsSync(p));
}

export async function startRealNodes(
  ctx: SandboxContext,
  ca: KeyPair,
  ensure: EnsureComponent,
  wait: WaitComponent,
  images: ImageSource,
): Promise<void> {
  const nodes = realNodes(ctx.dir, ctx.state.topology);
  if (nodes.length === 0) return;
  const sid = sandboxId(ctx.dir);
  ensureUnderlay(sid);
  const address = apiserverAddress(ctx.state);
  const archives = await images();
  for (const n of nodes) {
    const files = ctx.files(n.cluster.name);
    const apiPort = ctx.state.ports[`${n.cluster.name}/kube-apiserver`];
    if (!apiPort) throw new KosmosError(`${n.cluster.name}: no kube-apiserver port recorded`);
    writeNodeFiles(n, ca, files, `https://${address}:${apiPort}`, PAUSE_IMAGE);
    prepareNodeCgroup(n);
    ensureNodeNetwork(
      n,
      nodes.filter((o) => o.cluster.name === n.cluster.name),
      sid,
    );
    if (n.cluster.name === HOST_CLUSTER) ensureRootRoute(n, sid);
  }
  ctx.progress(`real nodes: containerd on ${nodes.length}`);
  const runtimes = await Promise.all(nodes.map((n) => ensure(containerdDef(ctx.bin, n))));
  await Promise.all(runtimes.map((c) => wait(c)));
  ctx.progress(`real nodes: ${archives.length} image(s) on each`);
  await Promise.all(nodes.map((n) => loadMissing(ctx, n, archives)));
  ctx.progress(`real nodes: kubelet and kube-proxy on ${nodes.length}`);
  const started: ComponentState[] = [];
  for (const n of nodes) {
    started.push(await ensure(kubeletDef(ctx.bin, n)));
    started.push(await ensure(kubeProxyDef(ctx.bin, n)));
  }
  await Promise.all(started.map((c) => wait(c)));
}

async function loadMissing(
  ctx: SandboxContext,
  n: RealNode,
  archives: { ref: string; file: string; manifestDigest: string }[],
): Promise<void> {
  // By digest, not only by name: an image rebuilt under the same tag (`npm run image`) replaces
  // the one the node has when `up` runs again.
  const have = await listImages(ctx.bin.ctr, n.containerdSocket);
  for (const a of archives) {
    if (have.get(a.ref) === a.manifestDigest) continue;
    await importImageArchive({ ctr: ctx.bin.ctr, socket: n.containerdSocket, file: a.file });
  }
}

/** Node processes are stopped in this order before the node itself is taken apart. */
const NODE_PROCESS_ORDER = ['kube-proxy', 'kubelet', 'containerd'];

/**
 * Stops the real nodes' processes, takes every node apart, removes the underlay, and puts the
 * global sysctls and shared paths back. Returns a description of anything it could not remove.
 */
export async function stopRealNodes(
  state: SandboxState,
  dir: string,
  progress: (m: string) => void,
): Promise<string[]> {
  const nodes = realNodes(dir, state.topology);
  if (nodes.length === 0) return [];
  const left: string[] = [];
  for (const name of NODE_PROCESS_ORDER) {
    await Promise.all(
      state.components
        .filter((c) => c.name === name && c.node !== undefined && isAlive(c.pid, c.hint ?? c.command))
        .map(async (c) => {
          progress(`stopping ${c.name} (${c.node}, pid ${c.pid})`);
          await stopProcess(c.pid, c.hint ?? c.command, 5_000);
        }),
    );
  }
  for (const n of nodes) {
    progress(`taking real node ${n.node.name} apart`);
    left.push(...destroyNode(n));
  }
  const sid = sandboxId(dir);
  removeUnderlay(sid);
  rmSync(runDirFor(sid), { recursive: true, force: true });
  try {
    rmdirSync('/run/kosmos-sandbox');
  } catch {
    /* absent, or another sandbox still uses it */
  }
  if (state.sysctls) {
    const failed = restoreSysctls(state.sysctls);
    if (failed.length > 0) left.push(`sysctls not restored: ${failed.join(', ')}`);
  }
  for (const p of state.createdPaths ?? []) rmSync(p, { recursive: true, force: true });
  return left;
}

/**
 * `sandbox image load FILE [--cluster NAME]`: an image archive into every real node (of one
 * cluster). The archive is checked first, so a bad file changes nothing on any node.
 */
export async function sandboxImageLoad(
  state: SandboxState,
  dir: string,
  bin: { ctr: string },
  file: string,
  cluster?: string,
): Promise<{ refs: string[]; nodes: string[] }> {
  if (cluster && !state.topology.clusters.some((c) => c.name === cluster)) {
    throw new UserError(
      `--cluster: unknown cluster "${cluster}": the sandbox has ${state.topology.clusters.map((c) => c.name).join(', ')}`,
    );
  }
  const nodes = realNodes(dir, state.topology).filter((n) => !cluster || n.cluster.name === cluster);
  if (nodes.length === 0) {
    throw new UserError(
      `the sandbox has no real node${cluster ? ` in ${cluster}` : ''} to load an image into`,
    );
  }
  const info = await inspectImageArchive(file);
  const refs = new Set<string>();
  for (const n of nodes) {
    for (const r of (await importImageArchive({ ctr: bin.ctr, socket: n.containerdSocket, file })).refs)
      refs.add(r);
  }
  return {
    refs: refs.size > 0 ? [...refs] : info.images.flatMap((i) => i.refs),
    nodes: nodes.map((n) => n.node.name),
  };
}
