/**
 * ClusterTree under a 1000-pod burst in a bare sandbox (host + 2 leaves of 6 nodes), one
 * worker process: pods synced per second, latency from host bind to leaf pod created and
 * from leaf Running to host Running (p50/p99, measured on watch events of this process's
 * clock), and the worker's peak RSS.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../cli/sandbox/binaries.js';
import { sandboxDown, sandboxUp } from '../cli/sandbox/sandbox.js';
import { defaultTopology } from '../cli/sandbox/topology.js';
import type { Node, Pod } from '../api/core.js';
import { KubeClient } from '../common/kube.js';
import { freePort } from '../common/ports.js';
import { createLogger } from '../common/logger.js';
import { Informer } from '../common/informer.js';
import { DEFAULT_CONCURRENCY } from '../cli/commands/clustertree.js';
import { percentile } from './stats.js';
import type { BenchRow } from './types.js';
import { KosmosError } from '../common/errors.js';

const PODS = 1000;
const NS = 'bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new KosmosError(`bench clustertree: timed out waiting for ${what}`);
    await sleep(200);
  }
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function benchClustertree(): Promise<BenchRow[]> {
  await ensureBinaries();
  const root = mkdtempSync(join(tmpdir(), 'kosmos-bench-clustertree-'));
  const dir = join(root, 'sandbox');
  const quiet = () => undefined;
  const log = createLogger('bench-clustertree');
  let worker: ReturnType<typeof spawn> | undefined;
  const informers: Informer<Pod>[] = [];
  try {
    const state = await sandboxUp({ dir, topology: defaultTopology(2, 6, 0), bare: true, progress: quiet });
    const host = KubeClient.fromFile(join(dir, 'host', 'kubeconfig'));
    const metricsPort = await freePort();
    worker = spawn(
      process.execPath,
      [
        join(process.cwd(), 'dist', 'clustertree', 'main.js'),
        '--kubeconfig',
        join(dir, 'host', 'kubeconfig'),
        '--redis-url',
        state.redisUrl,
        '--node-server-port',
        '0',
        '--worker-id',
        'bench',
        '--port',
        String(metricsPort),
      ],
      { stdio: 'ignore', env: { ...process.env, KOSMOS_LOG_LEVEL: 'warn' } },
    );
    for (const leaf of ['leaf-1', 'leaf-2']) {
      await host.apply(
        {
          apiVersion: 'kosmos.io/v1alpha1',
          kind: 'Cluster',
          metadata: { name: leaf },
          spec: { kubeconfig: readFileSync(join(dir, leaf, 'kubeconfig')).toString('base64') },
        },
        'bench',
      );
    }
    await waitFor(
      '2 Ready virtual nodes',
      async () => {
        const nodes = await host.list<Node>('v1', 'Node', { labelSelector: 'kosmos.io/node=true' });
        return (
          nodes.items.length === 2 &&
          nodes.items.every((n) =>
            n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          )
        );
      },
      60_000,
    );

    const bound = new Map<string, number>();
    const hostRunning = new Map<string, number>();
    const leafCreated = new Map<string, number>();
    const leafRunning = new Map<string, number>();
    const selector = 'app=bench';
    informers.push(
      new Informer<Pod>(
        host,
        { path: `/api/v1/namespaces/${NS}/pods`, labelSelector: selector },
        {
          onUpsert: (p) => {
            const name = p.metadata?.name ?? '';
            if (p.spec.nodeName && !bound.has(name)) bound.set(name, performance.now());
            if (p.status?.phase === 'Running' && !hostRunning.has(name))
              hostRunning.set(name, performance.now());
          },
        },
        log,
      ),
    );
    for (const leaf of ['leaf-1', 'leaf-2']) {
      informers.push(
        new Informer<Pod>(
          KubeClient.fromFile(join(dir, leaf, 'kubeconfig')),
          { path: `/api/v1/namespaces/${NS}/pods`, labelSelector: selector },
          {
            onUpsert: (p) => {
              const name = p.metadata?.name ?? '';
              if (!leafCreated.has(name)) leafCreated.set(name, performance.now());
              if (p.status?.phase === 'Running' && !leafRunning.has(name))
                leafRunning.set(name, performance.now());
            },
          },
          log,
        ),
      );
    }
    await host.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await Promise.all(informers.map((i) => i.start()));
    await host.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench', namespace: NS },
      spec: {
        replicas: PODS,
        selector: { matchLabels: { app: 'bench' } },
        template: {
          metadata: { labels: { app: 'bench' } },
          spec: {
            nodeSelector: { 'kosmos.io/node': 'true' },
            tolerations: [{ key: 'kosmos.io/node', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{ name: 'main', image: 'nginx' }],
          },
        },
      },
    } as never);
    await waitFor(`${PODS} pods Running in the host`, () => hostRunning.size >= PODS, 600_000);
    const rss = peakRssMiB(worker.pid ?? 0);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const meanJob = (type: string) => {
      const num = (suffix: string) =>
        Number(
          new RegExp(`clustertree_job_seconds_${suffix}\\{[^}]*type="${type}"[^}]*\\} (\\S+)`).exec(
            metrics,
          )?.[1] ?? 'NaN',
        );
      return num('sum') / num('count');
    };

    const toLeaf: number[] = [];
    for (const [name, t] of leafCreated) {
      const b = bound.get(name);
      if (b !== undefined) toLeaf.push((t - b) / 1000);
    }
    const toHost: number[] = [];
    for (const [name, t] of hostRunning) {
      const l = leafRunning.get(name);
      if (l !== undefined) toHost.push(Math.max(0, (t - l) / 1000));
    }
    const firstBind = Math.min(...bound.values());
    const lastCreate = Math.max(...leafCreated.values());
    const rate = leafCreated.size / ((lastCreate - firstBind) / 1000);
    // What the same machine's host control plane manages alone: scheduling and binding the burst.
    const bindRate = bound.size / ((Math.max(...bound.values()) - firstBind) / 1000);
    const row = (metric: string, value: number, unit: string, target?: string, met?: boolean): BenchRow => ({
      suite: 'clustertree',
      metric,
      value,
      unit,
      ...(target ? { target } : {}),
      ...(met !== undefined ? { met } : {}),
    });
    const p99a = percentile(toLeaf, 99);
    const p99b = percentile(toHost, 99);
    return [
      {
        ...row(`${PODS}-pod burst: pods synced per second (host bind → leaf pod created)`, rate, 'pods/s'),
        baseline: { name: 'host scheduler binds/s', value: bindRate },
        ratio: rate / bindRate,
      },
      row('host bind → leaf pod created, p50', percentile(toLeaf, 50), 's'),
      row('host bind → leaf pod created, p99', p99a, 's', '< 2 s', p99a < 2),
      row('leaf Running → host Running, p50', percentile(toHost, 50), 's'),
      row('leaf Running → host Running, p99', p99b, 's', '< 2 s', p99b < 2),
      row(`worker peak RSS (1 process, concurrency ${DEFAULT_CONCURRENCY}, the default)`, rss, 'MiB'),
      // Where the time goes: a pod job is one leaf POST, a status job one host PATCH.
      row('mean pod job time (leaf pod create)', meanJob('pod'), 's'),
      row('mean status job time (host status patch)', meanJob('status'), 's'),
    ];
  } finally {
    for (const i of informers) i.stop();
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
    await sandboxDown({ dir, progress: quiet }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
