/**
 * Extender bench (c): pods scheduled per second by the real kube-scheduler over 500 kwok
 * nodes, without the extender and with it, in the same sandbox and the same run.
 *
 * Each variant gets a scheduler of its own serving one schedulerName; the pods are created
 * first, then that scheduler starts, and the rate is taken between the first and the last
 * binding it makes, so pod creation and scheduler start-up are outside the measurement.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../api/core.js';
import { KubeClient } from '../common/kube.js';
import { ensureBinaries } from '../cli/sandbox/binaries.js';
import { clusterFiles, schedulerConfig, schedulerDef } from '../cli/sandbox/control-plane.js';
import { kosmosSchedulerConfig } from '../cli/sandbox/kosmos-components.js';
import { freePort, startDetached, stopProcess, waitHealthy } from '../cli/sandbox/processes.js';
import { sandboxDown, sandboxUp } from '../cli/sandbox/sandbox.js';
import { parseTopologyObject } from '../cli/sandbox/topology.js';
import { projectRoot } from '../cli/paths.js';
import type { BenchRow } from './types.js';
import { KosmosError } from '../common/errors.js';

const NODES = Number(process.env['KOSMOS_BENCH_SCHED_NODES'] ?? 500);
const PODS = Number(process.env['KOSMOS_BENCH_SCHED_PODS'] ?? 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createPods(client: KubeClient, namespace: string, schedulerName: string): Promise<void> {
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, 'kosmos-bench');
  const queue = Array.from({ length: PODS }, (_, i) => i);
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `p-${i}`, namespace, labels: { app: 'bench' } },
        spec: {
          schedulerName,
          containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '10m', memory: '10Mi' } } }],
        },
      };
      await client.create(pod);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

async function unbound(client: KubeClient, namespace: string): Promise<number> {
  const list = await client.list<Pod>('v1', 'Pod', { namespace, fieldSelector: 'spec.nodeName=' });
  return list.items.length;
}

/** Seconds between the first and the last binding, seen by polling every 50 ms. */
async function measureBindings(client: KubeClient, namespace: string, timeoutMs = 600_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let first: number | undefined;
  for (;;) {
    const left = await unbound(client, namespace);
    const now = performance.now();
    if (first === undefined && left < PODS) first = now;
    if (left === 0) return (now - (first ?? now)) / 1000 || 0.001;
    if (Date.now() > deadline) throw new KosmosError(`${left} pods still unbound in ${namespace}`);
    await sleep(50);
  }
}

export async function benchScheduling(): Promise<BenchRow[]> {
  const bin = await ensureBinaries();
  const root = mkdtempSync(join(tmpdir(), 'kosmos-bench-sched-'));
  const dir = join(root, 'sandbox');
  const quiet = () => undefined;
  const pids: number[] = [];
  try {
    const topology = parseTopologyObject({
      clusters: [{ name: 'host', nodes: [{ count: NODES, cpu: '32', memory: '128Gi', pods: '110' }] }],
    });
    await sandboxUp({ dir, topology, bare: true, progress: quiet });
    const cluster = topology.clusters[0]!;
    const files = clusterFiles(dir, 'host');
    const client = KubeClient.fromFile(files.kubeconfig);

    const runScheduler = async (name: string, config: string): Promise<void> => {
      const file = join(root, `${name}.yaml`);
      writeFileSync(file, config);
      const def = schedulerDef(bin, cluster, files, await freePort(), file, name);
      const pid = startDetached(def.spec);
      pids.push(pid);
      await waitHealthy(name, def.health, pid, def.spec.logFile, 60_000);
    };

    // Without the extender: the stock scheduler, default plugins.
    await createPods(client, 'plain', 'bench-plain');
    // Watch from before the scheduler starts: a fast one binds everything while it becomes healthy.
    const plainMeasure = measureBindings(client, 'plain');
    await runScheduler('sched-plain', schedulerConfig(files.kubeconfig, [{ schedulerName: 'bench-plain' }]));
    const plainSeconds = await plainMeasure;

    // With the extender: Kosmos' configuration (kosmos-scheduler profile only here), and the
    // extender as its own process, as deployed.
    const extPort = await freePort();
    const cli = join(projectRoot(), 'dist', 'cli', 'main.js');
    const extLog = join(root, 'extender.log');
    const ext = startDetached({
      name: 'extender',
      command: process.execPath,
      args: [
        cli,
        'extender',
        '--port',
        String(extPort),
        '--kubeconfig',
        files.kubeconfig,
        '--no-leaf-clusters',
      ],
      env: { KOSMOS_LOG_LEVEL: 'warn' },
      logFile: extLog,
    });
    pids.push(ext);
    await waitHealthy('extender', { url: `http://127.0.0.1:${extPort}/readyz` }, ext, extLog, 60_000);
    const template = readFileSync(join(projectRoot(), 'config', 'scheduler-config.yaml'), 'utf8');
    const kosmosConfig = kosmosSchedulerConfig(template, files.kubeconfig, `http://127.0.0.1:${extPort}/`);
    const onlyKosmosProfile = kosmosConfig.replace(
      /\n {2}- schedulerName: default-scheduler[\s\S]*?(?=\nextenders:)/,
      '',
    );
    await createPods(client, 'kosmos', 'kosmos-scheduler');
    const kosmosMeasure = measureBindings(client, 'kosmos');
    await runScheduler('sched-kosmos', onlyKosmosProfile);
    const kosmosSeconds = await kosmosMeasure;
    client.close();
    // Where the time goes inside the extender: mean latency per verb, from its own metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${extPort}/metrics`)).text();
    const verbRows: BenchRow[] = [];
    for (const verb of ['filter', 'prioritize', 'bind']) {
      const sum = Number(
        metrics.match(
          new RegExp(`kosmos_extender_request_duration_seconds_sum\\{[^}]*verb="${verb}"[^}]*\\} (\\S+)`),
        )?.[1],
      );
      const count = Number(
        metrics.match(
          new RegExp(`kosmos_extender_request_duration_seconds_count\\{[^}]*verb="${verb}"[^}]*\\} (\\S+)`),
        )?.[1],
      );
      if (count > 0) {
        verbRows.push({
          suite: 'extender',
          metric: `(c) extender-side mean ${verb} time (${count} calls)`,
          value: (sum / count) * 1000,
          unit: 'ms',
        });
      }
    }

    const plainRate = (PODS - 1) / plainSeconds;
    const kosmosRate = (PODS - 1) / kosmosSeconds;
    const ratio = kosmosRate / plainRate;
    return [
      {
        suite: 'extender',
        metric: `(c) pods scheduled/s, ${PODS} pods over ${NODES} nodes, with extender`,
        value: kosmosRate,
        unit: 'pods/s',
        baseline: { name: 'kube-scheduler without extender', value: plainRate },
        ratio,
        target: '>= 0.7',
        met: ratio >= 0.7,
      },
      ...verbRows,
    ];
  } finally {
    for (const pid of pids) await stopProcess(pid).catch(() => undefined);
    await sandboxDown({ dir, progress: quiet }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
