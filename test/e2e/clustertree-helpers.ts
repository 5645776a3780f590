/**
 * e2e helpers for ClusterTree: worker processes, a Redis of the test's own, Cluster objects
 * for the sandbox's leaves, and JSON reads through kubectl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxState } from '../../src/cli/sandbox/state.js';
import type { Pod } from '../../src/api/core.js';
import { KubeClient } from '../../src/common/kube.js';
import { freePort } from '../../src/common/ports.js';
import { kubectl, sleep } from './harness.js';

export const CLUSTERTREE = join(process.cwd(), 'dist', 'clustertree', 'main.js');

export { freePort };

export const kubeconfigOf = (dir: string, cluster: string) => join(dir, cluster, 'kubeconfig');
export const readSandboxState = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SandboxState;

export interface Worker {
  id: string;
  child: ChildProcess;
  metricsPort: number;
  logFile: string;
}

export async function startWorker(
  dir: string,
  id: string,
  redisUrl: string,
  extra: string[] = [],
): Promise<Worker> {
  const metricsPort = await freePort();
  const logFile = join(dir, '..', `clustertree-${id}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [
      CLUSTERTREE,
      '--kubeconfig',
      kubeconfigOf(dir, 'host'),
      '--redis-url',
      redisUrl,
      '--node-server-port',
      '0',
      '--port',
      String(metricsPort),
      '--worker-id',
      id,
      '--concurrency',
      '16',
      // The host apiserver's kubelet client certificate is issued by the sandbox CA.
      '--client-ca-file',
      join(dir, 'pki', 'ca.crt'),
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const w: Worker = { id, child, metricsPort, logFile };
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null)
      throw new Error(`worker ${id} exited with ${child.exitCode}; see ${logFile}`);
    try {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      if (r.ok) return w;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`worker ${id} did not start; see ${logFile}`);
}

export async function stopWorker(w: Worker | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  const exited = new Promise((r) => w.child.once('exit', r));
  w.child.kill(signal);
  await Promise.race([exited, sleep(10_000)]);
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
}

/** Sum of a counter over its label sets in a worker's /metrics. */
export async function counter(w: Worker, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

export function applyJson(kubeconfig: string, obj: unknown): void {
  const r = kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(obj));
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

export function getJson<T>(kubeconfig: string, args: string[]): T {
  const r = kubectl(kubeconfig, ['get', ...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Item {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
  };
  spec: Record<string, unknown> & {
    nodeName?: string;
    taints?: { key: string; value?: string; effect: string }[];
  };
  status?: Record<string, unknown> & {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    allocatable?: Record<string, string>;
  };
  data?: Record<string, string>;
}

export const items = (kubeconfig: string, args: string[]): Item[] =>
  getJson<{ items: Item[] }>(kubeconfig, args).items;

export function clusterObject(dir: string, name: string, leafModels?: unknown[]): object {
  const kubeconfig = readFileSync(kubeconfigOf(dir, name), 'utf8');
  return {
    apiVersion: 'kosmos.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      kubeconfig: Buffer.from(kubeconfig).toString('base64'),
      clusterTreeOptions: leafModels ? { leafModels } : {},
    },
  };
}

/** A Deployment whose pods go to the virtual nodes selected by `nodeSelector`. */
export function deployment(
  name: string,
  namespace: string,
  replicas: number,
  nodeSelector: Record<string, string>,
  extra: Record<string, unknown> = {},
): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector,
          tolerations: [{ key: 'kosmos.io/node', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [{ name: 'main', image: 'nginx' }],
          terminationGracePeriodSeconds: 5,
          ...extra,
        },
      },
    },
  };
}

export const ready = (node: Item): string | undefined =>
  node.status?.conditions?.find((c) => c.type === 'Ready')?.status;

/** Pods through the API rather than kubectl: polling a burst on a loaded machine must not spawn processes. */
export async function listPods(client: KubeClient, namespace: string, labelSelector: string): Promise<Pod[]> {
  return (await client.list<Pod>('v1', 'Pod', { namespace, labelSelector })).items;
}

export const clientOf = (kubeconfig: string): KubeClient => KubeClient.fromFile(kubeconfig);
