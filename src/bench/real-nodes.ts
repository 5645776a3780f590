/**
 * Real nodes (kubelet + containerd + runc): how long a kubelet takes from its start to a Ready
 * Node, how long a pod takes from create to Running on a real node, and the same pod created
 * in the host and run in the leaf through a virtual node (ClusterTree), beside the pod created
 * directly in the leaf (the ratio is what a virtual node costs). In a sandbox with Kosmos
 * (host + 2 leaves, one real node each); times come from watch events seen by this process,
 * except the kubelet's start, which is its process start time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node, Pod } from '../api/core.js';
import { ensureBinaries } from '../cli/sandbox/binaries.js';
import { TOOLBOX_IMAGE } from '../cli/sandbox/sandbox-images.js';
import { sandboxDown, sandboxUp } from '../cli/sandbox/sandbox.js';
import { readState } from '../cli/sandbox/state.js';
import { defaultTopology } from '../cli/sandbox/topology.js';
import { KosmosError } from '../common/errors.js';
import { Informer } from '../common/informer.js';
import { KubeClient } from '../common/kube.js';
import { createLogger } from '../common/logger.js';
import { percentile } from './stats.js';
import type { BenchRow } from './types.js';

/**
 * Pods created one after another, per path: directly in the leaf (its scheduler places it on
 * the real node) and in the host (the host scheduler binds it to the virtual node, ClusterTree
 * creates it in the leaf, the leaf runs it, ClusterTree copies its status back).
 */
const PODS = 20;
/** Kubelet restarts measured. */
const RESTARTS = 3;
const NS = 'bench-real';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new KosmosError(`bench real-nodes: timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A process's start, in this machine's wall clock (ms): boot time + its start in clock ticks. */
function processStartMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]); // field 22 of stat: starttime, in clock ticks (100 Hz on Linux)
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - uptimeS * 1000 + (ticks / 100) * 1000;
}

const isReady = (n: Node) =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** Pod create → Running, measured for PODS pods created one after another through `client`. */
async function createToRunning(client: KubeClient, spec: Pod['spec'], prefix: string): Promise<number[]> {
  const running = new Map<string, number>();
  const informer = new Informer<Pod>(
    client,
    { path: `/api/v1/namespaces/${NS}/pods`, labelSelector: `bench=${prefix}` },
    {
      onUpsert: (p) => {
        const name = p.metadata?.name ?? '';
        if (p.status?.phase === 'Running' && !running.has(name)) running.set(name, performance.now());
      },
    },
    createLogger('bench-real-nodes'),
  );
  await informer.start();
  const out: number[] = [];
  try {
    for (let i = 0; i < PODS; i++) {
      const name = `${prefix}-${i}`;
      const t0 = performance.now();
      await client.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NS, labels: { bench: prefix } },
        spec,
      });
      await waitFor(`${name} Running`, () => running.has(name), 120_000);
      out.push((running.get(name)! - t0) / 1000);
    }
  } finally {
    informer.stop();
  }
  return out;
}

export async function benchRealNodes(): Promise<BenchRow[]> {
  await ensureBinaries();
  const root = mkdtempSync(join(tmpdir(), 'kosmos-bench-real-'));
  const dir = join(root, 'sandbox');
  const quiet = () => undefined;
  const clients: KubeClient[] = [];
  try {
    await sandboxUp({ dir, topology: defaultTopology(2, 0, 1), progress: quiet });
    const host = KubeClient.fromFile(join(dir, 'host', 'kubeconfig'));
    const leaf = KubeClient.fromFile(join(dir, 'leaf-1', 'kubeconfig'));
    clients.push(host, leaf);

    // Kubelet start → Node Ready: leaf-1's kubelet killed with its Node marked not ready (as the
    // node lifecycle controller would after missed heartbeats); the supervisor starts it again.
    const nodeName = 'leaf-1-node-0';
    const readyStarts: number[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      const kubeletOf = () =>
        readState(dir)?.components.find((c) => c.name === 'kubelet' && c.node === nodeName)?.pid;
      const oldPid = kubeletOf();
      if (oldPid === undefined)
        throw new KosmosError(`bench real-nodes: no kubelet of ${nodeName} in the sandbox state`);
      process.kill(oldPid, 'SIGKILL');
      await sleep(200);
      const node = await leaf.get<Node>('v1', 'Node', nodeName);
      const conditions = (node.status?.conditions ?? []).map((c) =>
        c.type === 'Ready'
          ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'bench: kubelet stopped' }
          : c,
      );
      await leaf.request(
        'PATCH',
        `/api/v1/nodes/${nodeName}/status`,
        { status: { conditions } },
        {
          contentType: 'application/strategic-merge-patch+json',
        },
      );
      let newPid: number | undefined;
      await waitFor(
        'the kubelet started again',
        () => ((newPid = kubeletOf()), newPid !== undefined && newPid !== oldPid),
        60_000,
      );
      const started = processStartMs(newPid!);
      await waitFor(
        `${nodeName} Ready`,
        async () => isReady(await leaf.get<Node>('v1', 'Node', nodeName)),
        60_000,
      );
      readyStarts.push((Date.now() - started) / 1000);
    }

    for (const c of [host, leaf])
      await c.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const container = {
      name: 'main',
      image: TOOLBOX_IMAGE,
      imagePullPolicy: 'IfNotPresent',
      command: ['sleep', '3600'],
    };
    const direct = await createToRunning(
      leaf,
      {
        nodeSelector: { 'kubernetes.io/hostname': nodeName },
        terminationGracePeriodSeconds: 0,
        containers: [container],
      } as Pod['spec'],
      'direct',
    );
    const virtual = await createToRunning(
      host,
      {
        nodeSelector: { 'kubernetes.io/hostname': 'kosmos-leaf-1' },
        tolerations: [{ key: 'kosmos.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        terminationGracePeriodSeconds: 0,
        containers: [container],
      } as Pod['spec'],
      'virtual',
    );
    const p99Direct = percentile(direct, 99);
    const p99Virtual = percentile(virtual, 99);
    const row = (metric: string, value: number, extra: Partial<BenchRow> = {}): BenchRow => ({
      suite: 'real-nodes',
      metric,
      value,
      unit: 's',
      ...extra,
    });
    return [
      row(`kubelet start → Node Ready, median of ${RESTARTS} restarts`, percentile(readyStarts, 50)),
      row(`pod create → Running on a real node, p50 (${PODS} pods, one at a time)`, percentile(direct, 50)),
      row(`pod create → Running on a real node, p99`, p99Direct),
      row(`host pod create → host Running through a virtual node, p50`, percentile(virtual, 50)),
      row(`host pod create → host Running through a virtual node, p99`, p99Virtual, {
        baseline: { name: 'direct in the leaf, p99', value: p99Direct },
        ratio: p99Virtual / p99Direct,
      }),
    ];
  } finally {
    for (const c of clients) c.close();
    await sandboxDown({ dir, progress: quiet }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
