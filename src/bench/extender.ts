/**
 * Extender benchmarks, in process (the sandbox part, scheduling throughput with the real
 * kube-scheduler, lives with the sandbox e2e):
 *  (a) placement core: filter + prioritize for one pod at 500 and 5000 nodes;
 *  (a') fit index: one fit query against a 5000-member-node leaf cluster;
 *  (b) HTTP round trip with 5000 node names beside an echo extender in the same run;
 *  (d) RSS of an extender holding 5000 nodes and 50 000 pods (child process).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import express from 'express';
import {
  ANNOTATION_OWNED_BY_CLUSTER,
  API_VERSION,
  LABEL_CLUSTER,
  LABEL_NODE,
  TAINT_NODE,
} from '../api/constants.js';
import type { Node, Pod } from '../api/core.js';
import { ExtenderCache } from '../extender/cache.js';
import { FitIndex } from '../extender/fit-index/fit-index.js';
import { filterPod, prioritizePod } from '../extender/placement/engine.js';
import { toPodView } from '../extender/placement/pod-view.js';
import { startExtender } from '../extender/server.js';
import type { BenchRow } from './types.js';
import { KosmosError } from '../common/errors.js';

const MEMBERS_PER_CLUSTER = 50;

function hostNode(i: number): Node {
  const name = `host-${i}`;
  return {
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': `z${i % 3}` },
    },
    spec: {},
    status: {
      allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function leafNode(c: number): Node {
  const cluster = `leaf-${c}`;
  return {
    metadata: {
      name: `kosmos-${cluster}`,
      labels: { [LABEL_NODE]: 'true', [LABEL_CLUSTER]: cluster },
      annotations: { [ANNOTATION_OWNED_BY_CLUSTER]: cluster },
    },
    spec: { taints: [{ ...TAINT_NODE }] },
    status: {
      allocatable: { cpu: '800', memory: '3200Gi', pods: '5500' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function memberNode(c: number, m: number): Node {
  return {
    metadata: {
      name: `leaf-${c}-m-${m}`,
      labels: { 'kubernetes.io/hostname': `leaf-${c}-m-${m}`, pool: m % 5 === 0 ? 'gpu' : 'general' },
    },
    spec: {},
    status: {
      allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function workPod(i: number, nodeName: string | undefined, cpu: string): Pod {
  return {
    metadata: {
      name: `w-${i}`,
      namespace: `ns-${i % 20}`,
      uid: `uid-${i}`,
      labels: { app: `app-${i % 50}`, tier: 'web' },
    },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [
        {
          name: 'c',
          image: 'nginx',
          resources: { requests: { cpu, memory: '256Mi' }, limits: { cpu, memory: '256Mi' } },
        },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
    status: { phase: 'Running' },
  };
}

/** `total` node names: total/50 one2cluster leaves (50 member nodes each), the rest host nodes. */
export function benchWorld(total: number, pods = 0): { cache: ExtenderCache; names: string[] } {
  const cache = new ExtenderCache();
  const clusters = Math.max(1, Math.floor(total / MEMBERS_PER_CLUSTER));
  const names: string[] = [];
  for (let i = 0; i < total - clusters; i++) {
    cache.upsertNode(hostNode(i));
    names.push(`host-${i}`);
  }
  for (let c = 0; c < clusters; c++) {
    cache.upsertNode(leafNode(c));
    names.push(`kosmos-leaf-${c}`);
    for (let m = 0; m < MEMBERS_PER_CLUSTER; m++) cache.upsertMemberNode(`leaf-${c}`, memberNode(c, m));
    // Fragment the members: most are nearly full.
    for (let m = 0; m < MEMBERS_PER_CLUSTER; m++) {
      const p = workPod(c * 1000 + m, `leaf-${c}-m-${m}`, m % 7 === 0 ? '4' : '15');
      cache.upsertMemberPod(`leaf-${c}`, p);
    }
  }
  for (let i = 0; i < pods; i++)
    cache.upsertPod(workPod(1_000_000 + i, `host-${i % Math.max(1, total - clusters)}`, '100m'));
  cache.upsertDistributionPolicy({
    apiVersion: API_VERSION,
    kind: 'ClusterDistributionPolicy',
    metadata: { name: 'web-mix', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: {
      resourceSelectors: [{ labelSelector: { matchLabels: { tier: 'web' } }, policyName: 'mix' }],
      policyTerms: [{ name: 'mix', nodeType: 'mix' }],
    },
  });
  return { cache, names };
}

/**
 * A full GC between phases, so one phase's garbage (a 5000-node world) is not collected
 * inside the next phase's timings.
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function quantiles(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
}

function benchCore(total: number, iterations: number): { p50: number; p99: number } {
  const { cache, names } = benchWorld(total);
  const pod = workPod(42, undefined, '2');
  collectGarbage();
  const samples: number[] = [];
  for (let i = 0; i < iterations + 200; i++) {
    const t = performance.now();
    const view = toPodView(pod);
    const d = filterPod(view, names, cache);
    prioritizePod(view, d.passed, cache);
    if (i >= 200) samples.push(performance.now() - t);
  }
  return quantiles(samples);
}

function benchFitIndex(
  members: number,
  iterations: number,
): { fits: { p50: number; p99: number }; tooBig: { p50: number; p99: number } } {
  const index = new FitIndex();
  for (let m = 0; m < members; m++) {
    index.upsertNode('big', memberNode(0, m));
    index.upsertPod('big', {
      uid: `p${m}`,
      namespace: 'x',
      name: `p${m}`,
      nodeName: `leaf-0-m-${m}`,
      terminal: false,
      requests: { cpu: m % 7 === 0 ? 4000 : 15000, pods: 1 },
    });
  }
  const constraints = { nodeSelector: {}, requiredTerms: undefined, tolerations: [] };
  const run = (req: Record<string, number>): { p50: number; p99: number } => {
    const samples: number[] = [];
    for (let i = 0; i < iterations + 100; i++) {
      const t = performance.now();
      index.fit('big', { kind: 'cluster' }, req, constraints);
      if (i >= 100) samples.push(performance.now() - t);
    }
    return quantiles(samples);
  };
  return { fits: run({ cpu: 8000, memory: 2 ** 30, pods: 1 }), tooBig: run({ cpu: 32000, pods: 1 }) };
}

async function post(agent: http.Agent, url: string, body: string): Promise<number> {
  const t = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new KosmosError(`${url}: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  return performance.now() - t;
}

/** The trivial extender: parses the request and echoes the node names back, nothing else. */
async function startEcho(): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(express.json({ limit: '256mb' }));
  app.post('/filter', (req, res) => {
    const body = req.body as { NodeNames?: string[] };
    res.json({
      Nodes: null,
      NodeNames: body.NodeNames ?? [],
      FailedNodes: {},
      FailedAndUnresolvableNodes: {},
      Error: '',
    });
  });
  app.post('/prioritize', (req, res) => {
    const body = req.body as { NodeNames?: string[] };
    res.json((body.NodeNames ?? []).map((Host) => ({ Host, Score: 0 })));
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function benchHttp(
  iterations: number,
): Promise<
  Record<'filter' | 'prioritize', { ours: { p50: number; p99: number }; echo: { p50: number; p99: number } }>
> {
  const { cache, names } = benchWorld(5000);
  const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
  const ours = await startExtender({ cache, logger: silent });
  const echo = await startEcho();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ Pod: workPod(7, undefined, '2'), Nodes: null, NodeNames: names });
  collectGarbage();
  const out = {
    filter: { ours: [] as number[], echo: [] as number[] },
    prioritize: { ours: [] as number[], echo: [] as number[] },
  };
  try {
    for (let i = 0; i < iterations + 50; i++) {
      // Interleave, so both see the same machine state.
      for (const verb of ['filter', 'prioritize'] as const) {
        const a = await post(agent, `${ours.url}/${verb}`, body);
        const b = await post(agent, `${echo.url}/${verb}`, body);
        if (i >= 50) {
          out[verb].ours.push(a);
          out[verb].echo.push(b);
        }
      }
    }
  } finally {
    agent.destroy();
    await ours.close();
    await echo.close();
  }
  return {
    filter: { ours: quantiles(out.filter.ours), echo: quantiles(out.filter.echo) },
    prioritize: { ours: quantiles(out.prioritize.ours), echo: quantiles(out.prioritize.echo) },
  };
}

const RSS_FLAG = '--kosmos-extender-rss-child';

/**
 * A fake apiserver that generates list pages on request (nothing retained), so the child's
 * RSS is the extender's: host nodes and pods, Clusters whose kubeconfigs point back here
 * under /leaf-<n>, and each leaf's member nodes and pods. Watches stay open and silent.
 */
async function fakeApiserver(total: number, pods: number): Promise<{ url: string; close(): void }> {
  const clusters = Math.max(1, Math.floor(total / MEMBERS_PER_CLUSTER));
  const hosts = total - clusters;
  const watches: http.ServerResponse[] = [];
  let url = '';
  const page = (items: unknown[], next?: string): string =>
    JSON.stringify({
      kind: 'List',
      metadata: { resourceVersion: '1', ...(next ? { continue: next } : {}) },
      items,
    });
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      watches.push(res);
      return;
    }
    const send = (body: string): void => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    };
    const leaf = /^\/leaf-(\d+)(\/.*)$/.exec(u.pathname);
    if (leaf) {
      const c = Number(leaf[1]);
      if (leaf[2] === '/api/v1/nodes')
        return send(page([...Array(MEMBERS_PER_CLUSTER).keys()].map((m) => memberNode(c, m))));
      if (leaf[2] === '/api/v1/pods') {
        return send(
          page(
            [...Array(MEMBERS_PER_CLUSTER).keys()].map((m) => workPod(c * 1000 + m, `leaf-${c}-m-${m}`, '4')),
          ),
        );
      }
    }
    switch (u.pathname) {
      case '/api/v1/nodes':
        return send(
          page([...[...Array(hosts).keys()].map(hostNode), ...[...Array(clusters).keys()].map(leafNode)]),
        );
      case '/api/v1/pods': {
        const from = Number(u.searchParams.get('continue') || '0');
        const to = Math.min(pods, from + Number(u.searchParams.get('limit') || '5000'));
        const items = [];
        for (let i = from; i < to; i++) items.push(workPod(1_000_000 + i, `host-${i % hosts}`, '100m'));
        return send(page(items, to < pods ? String(to) : undefined));
      }
      case '/api/v1/persistentvolumeclaims':
      case '/api/v1/persistentvolumes':
        return send(page([]));
      case `/apis/${API_VERSION}/clusters`: {
        const kubeconfig = (c: number): string =>
          Buffer.from(
            `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${url}/leaf-${c}", insecure-skip-tls-verify: true}}]\n` +
              `users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
          ).toString('base64');
        return send(
          page(
            [...Array(clusters).keys()].map((c) => ({
              metadata: { name: `leaf-${c}` },
              spec: { kubeconfig: kubeconfig(c) },
            })),
          ),
        );
      }
      default:
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":404}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () => {
      for (const w of watches) w.end();
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Child process: a full extender fed by informers with 5000 nodes and 50 000 pods; prints its RSS. */
async function rssChild(apiUrl: string): Promise<void> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: apiUrl, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
  const ext = await startExtender({ kubeconfig: kc, logger: silent });
  const leaves = Math.floor(5000 / MEMBERS_PER_CLUSTER);
  for (let i = 0; ; i++) {
    const loaded = [...Array(leaves).keys()].every((c) => ext.cache.members.hasCluster(`leaf-${c}`));
    if (ext.synced() && ext.cache.podCount() >= 50_000 && loaded) break;
    if (i > 1200)
      throw new KosmosError(`informers did not load the bench cluster (${ext.cache.podCount()} pods)`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // List pages are garbage by now; collect them so RSS is what the extender keeps.
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(
    `${JSON.stringify({ rss: process.memoryUsage().rss, nodes: ext.cache.nodeCount(), pods: ext.cache.podCount() })}\n`,
  );
  await ext.close();
  process.exit(0);
}

/** The fake apiserver runs here, in the bench process, so only the extender counts in the child's RSS. */
async function benchRss(): Promise<{ rss: number; nodes: number; pods: number }> {
  const self = fileURLToPath(import.meta.url);
  const api = await fakeApiserver(5000, 50_000);
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', self, RSS_FLAG, api.url], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) reject(new KosmosError(`RSS child exited with ${code}`));
        else resolve(JSON.parse(out.trim()) as { rss: number; nodes: number; pods: number });
      });
    });
  } finally {
    api.close();
  }
}

export async function benchExtender(): Promise<BenchRow[]> {
  const suite = 'extender';
  const rows: BenchRow[] = [];
  for (const [total, iterations] of [
    [500, 3000],
    [5000, 1000],
  ] as const) {
    const q = benchCore(total, iterations);
    rows.push({
      suite,
      metric: `(a) filter+prioritize, 1 pod, ${total} nodes, p50`,
      value: q.p50,
      unit: 'ms',
    });
    rows.push({
      suite,
      metric: `(a) filter+prioritize, 1 pod, ${total} nodes, p99`,
      value: q.p99,
      unit: 'ms',
      ...(total === 5000 ? { target: '< 2 ms', met: q.p99 < 2 } : {}),
    });
  }
  const fit = benchFitIndex(5000, 3000);
  rows.push({
    suite,
    metric: "(a') fit index: fitting pod, 1 cluster of 5000 member nodes, p99",
    value: fit.fits.p99,
    unit: 'ms',
  });
  rows.push({
    suite,
    metric: "(a') fit index: pod larger than every member node, p99",
    value: fit.tooBig.p99,
    unit: 'ms',
  });

  const h = await benchHttp(1000);
  for (const verb of ['filter', 'prioritize'] as const) {
    const r = h[verb];
    rows.push({
      suite,
      metric: `(b) HTTP ${verb}, 5000 node names, p50`,
      value: r.ours.p50,
      unit: 'ms',
      baseline: { name: 'echo extender', value: r.echo.p50 },
      ratio: r.ours.p50 / r.echo.p50,
    });
    rows.push({
      suite,
      metric: `(b) HTTP ${verb}, 5000 node names, p99`,
      value: r.ours.p99,
      unit: 'ms',
      baseline: { name: 'echo extender', value: r.echo.p99 },
      ratio: r.ours.p99 / r.echo.p99,
      target: '<= 1.5x echo',
      met: r.ours.p99 <= 1.5 * r.echo.p99,
    });
  }

  const rss = await benchRss();
  rows.push({
    suite,
    metric: `(d) RSS, extender fed by informers: ${rss.nodes} nodes, ${rss.pods} pods, 100 leaves x 50 members`,
    value: rss.rss / 2 ** 20,
    unit: 'MB',
    target: '< 300 MB',
    met: rss.rss < 300 * 2 ** 20,
  });
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === RSS_FLAG) {
  rssChild(process.argv[3] ?? '').catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
