/**
 * Webhook benchmarks:
 *  (a) admission latency p50/p99 at 500 reviews/s for 30 s over HTTPS, beside a trivial
 *      HTTPS server answering a fixed AdmissionReview, measured in the same run with the
 *      same load, TLS settings and client. Target: p99 within 2x of the trivial server.
 *  (b) RSS of the webhook server process after the load.
 *  (c) the pure mutation decision alone, in process.
 * Both servers run as child processes of this one (self-spawned), so the load generator's
 * own work and memory are not counted in theirs. KOSMOS_BENCH_QUICK=1 runs 5 s instead of 30.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { API_VERSION, LABEL_CLUSTER, LABEL_POD_TEMPLATE_HASH, LABEL_ZONE } from '../api/constants.js';
import type { Pod } from '../api/core.js';
import type { PolicyObject } from '../common/distribution-policy.js';
import { createLogger } from '../common/logger.js';
import { CertRotator } from '../webhooks/cert-rotator.js';
import { MemoryCertStore } from '../webhooks/cert-store.js';
import { LOOPBACK_IPS, servingNames } from '../webhooks/certificates.js';
import { mutatePod } from '../webhooks/pod-mutator.js';
import { startWebhookServer } from '../webhooks/server.js';
import { InMemorySources } from '../webhooks/sources.js';
import type { BenchRow } from './types.js';
import { KosmosError } from '../common/errors.js';

const SUITE = 'webhooks';
const CHILD_FLAG = '--kosmos-webhooks-bench-child';
const RATE = 500;

function durationSeconds(): number {
  const explicit = Number(process.env['KOSMOS_BENCH_WEBHOOKS_SECONDS']);
  if (Number.isFinite(explicit) && explicit > 0) return explicit;
  return process.env['KOSMOS_BENCH_QUICK'] === '1' ? 5 : 30;
}

/** 50 namespaces with 4 DistributionPolicies each and 20 ClusterDistributionPolicies: a busy cluster's policy set. */
function benchPolicies(): PolicyObject[] {
  const out: PolicyObject[] = [];
  for (let n = 0; n < 50; n++) {
    for (let p = 0; p < 4; p++) {
      out.push({
        apiVersion: API_VERSION,
        kind: 'DistributionPolicy',
        metadata: { name: `dp-${p}`, namespace: `ns-${n}`, creationTimestamp: '2026-01-01T00:00:00Z' },
        spec: {
          resourceSelectors: [{ labelSelector: { matchLabels: { app: `app-${p}` } }, policyName: 'spread' }],
          policyTerms: [
            {
              name: 'spread',
              nodeType: 'mix',
              topologySpreadConstraints: [
                { topologyKey: LABEL_ZONE },
                { topologyKey: LABEL_CLUSTER, whenUnsatisfiable: 'ScheduleAnyway' },
              ],
            },
          ],
        },
      });
    }
  }
  for (let c = 0; c < 20; c++) {
    out.push({
      apiVersion: API_VERSION,
      kind: 'ClusterDistributionPolicy',
      metadata: { name: `cdp-${c}`, creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: {
        resourceSelectors: [{ namePrefix: `batch-${c}-`, policyName: 'leaf' }],
        policyTerms: [{ name: 'leaf', nodeType: 'leaf' }],
      },
    });
  }
  return out;
}

function benchPod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-5d8f7c-',
      namespace: 'ns-7',
      labels: { app: 'app-2', [LABEL_POD_TEMPLATE_HASH]: '5d8f7c' },
    },
    spec: {
      schedulerName: 'default-scheduler',
      containers: [
        { name: 'web', image: 'nginx:1.27', resources: { requests: { cpu: '100m', memory: '128Mi' } } },
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
  };
}

function reviewBody(): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '8d0b8c38-0d5f-4bd4-9d0b-6c1f0f3c6d5e',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'ns-7',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: benchPod(),
    },
  });
}

// ---- child processes -------------------------------------------------------------------

/** Announces {port, ca} on stdout, serves until stdin closes, then reports its RSS and exits. */
async function child(kind: string): Promise<void> {
  const quiet = createLogger('webhooks-bench', {}, () => {});
  let port: number;
  let ca: string;
  let close: () => Promise<void>;
  if (kind === 'webhook') {
    const sources = new InMemorySources(benchPolicies());
    const s = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      policies: sources,
      clusters: sources,
      logger: quiet,
    });
    ({ port, caPem: ca, close } = s);
  } else {
    // Same PKI shape and TLS floor as the webhook; answers one fixed review after reading the body.
    const bundle = await new CertRotator(new MemoryCertStore(), {
      dnsNames: servingNames(),
      ipAddresses: LOOPBACK_IPS,
      logger: quiet,
    }).ensure();
    const fixed = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '8d0b8c38-0d5f-4bd4-9d0b-6c1f0f3c6d5e', allowed: true },
    });
    const server = createServer(
      { key: bundle.serving.key, cert: bundle.serving.cert, minVersion: 'TLSv1.2' },
      (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(fixed);
        });
      },
    );
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    ca = bundle.ca.cert;
    close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
  }
  const ready = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ port, ca })}\n`);
  await new Promise<void>((resolve) => process.stdin.on('end', resolve).resume());
  const rss = process.memoryUsage().rss;
  const cpu = process.cpuUsage(ready);
  await close();
  process.stdout.write(`${JSON.stringify({ rss, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
}

interface Child {
  port: number;
  ca: string;
  proc: ChildProcess;
  /** Closes the child's stdin and resolves with its RSS and CPU time used so far. */
  stop(): Promise<{ rss: number; cpuMs: number }>;
}

async function spawnChild(kind: 'webhook' | 'baseline'): Promise<Child> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), CHILD_FLAG, kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new KosmosError(`bench ${kind} server exited before listening`);
  const { port, ca } = JSON.parse(first.value) as { port: number; ca: string };
  return {
    port,
    ca,
    proc,
    stop: async () => {
      proc.stdin?.end();
      const last = await lines.next();
      if (last.done) throw new KosmosError(`bench ${kind} server exited without reporting its RSS`);
      return JSON.parse(last.value) as { rss: number; cpuMs: number };
    },
  };
}

// ---- load generation -------------------------------------------------------------------

interface LoadResult {
  latenciesMs: number[];
  errors: number;
  sent: number;
}

/**
 * Open-loop load on 127.0.0.1: request k is sent at start + k/rate, whatever the answers do,
 * and the loop stops by itself after rate x seconds requests.
 */
async function load(
  port: number,
  agent: Agent,
  body: string,
  rate: number,
  seconds: number,
): Promise<LoadResult> {
  const total = Math.round(rate * seconds);
  const latenciesMs: number[] = [];
  let errors = 0;
  let sent = 0;
  let done = 0;
  const payload = Buffer.from(body);
  await new Promise<void>((resolve) => {
    const start = performance.now();
    const fire = () => {
      const t0 = performance.now();
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/mutate/pods',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            if (res.statusCode === 200) latenciesMs.push(performance.now() - t0);
            else errors++;
            if (++done === total) resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        if (++done === total) resolve();
      });
      req.end(payload);
    };
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        sent++;
        fire();
      }
      if (sent >= total) clearInterval(timer);
    }, 1);
  });
  return { latenciesMs, errors, sent };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

interface Measured {
  p50: number;
  p99: number;
  errors: number;
  rss: number;
  /** Server CPU time per review, from listening to the end of the load (start-up excluded). */
  cpuUsPerReview: number;
}

/** Window length of the interleaving below. */
const WINDOW_SECONDS = 1;

/**
 * Both servers run side by side and get the load in alternating windows (baseline, webhook,
 * baseline...), each for `seconds` in total. On a shared machine a noisy neighbour then hits
 * both about equally, instead of whichever happened to run second.
 */
async function measureBoth(
  body: string,
  seconds: number,
): Promise<{ baseline: Measured; webhook: Measured }> {
  const children = { baseline: await spawnChild('baseline'), webhook: await spawnChild('webhook') };
  try {
    // One client per server for warm-up and measurement, as the apiserver keeps its
    // connections: measured windows start with TLS sessions open and JIT warm.
    const agents = {
      baseline: new Agent({ keepAlive: true, maxSockets: 64, ca: children.baseline.ca }),
      webhook: new Agent({ keepAlive: true, maxSockets: 64, ca: children.webhook.ca }),
    };
    const results = {
      baseline: { latenciesMs: [] as number[], errors: 0 },
      webhook: { latenciesMs: [] as number[], errors: 0 },
    };
    for (const kind of ['baseline', 'webhook'] as const)
      await load(children[kind].port, agents[kind], body, RATE, 2);
    for (let left = seconds; left > 0; left -= WINDOW_SECONDS) {
      const window = Math.min(WINDOW_SECONDS, left);
      for (const kind of ['baseline', 'webhook'] as const) {
        const r = await load(children[kind].port, agents[kind], body, RATE, window);
        results[kind].latenciesMs.push(...r.latenciesMs);
        results[kind].errors += r.errors;
      }
    }
    agents.baseline.destroy();
    agents.webhook.destroy();
    const summarize = async (kind: 'baseline' | 'webhook'): Promise<Measured> => {
      const sorted = [...results[kind].latenciesMs].sort((a, b) => a - b);
      const { rss, cpuMs } = await children[kind].stop();
      const reviews = RATE * (seconds + 2);
      return {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        errors: results[kind].errors,
        rss,
        cpuUsPerReview: (cpuMs * 1000) / reviews,
      };
    };
    return { baseline: await summarize('baseline'), webhook: await summarize('webhook') };
  } finally {
    for (const c of Object.values(children)) if (c.proc.exitCode === null) c.proc.kill();
  }
}

function benchDecision(iterations: number): number {
  const policies = benchPolicies();
  const pod = benchPod();
  for (let i = 0; i < 2000; i++) mutatePod(pod, 'ns-7', policies);
  const t = performance.now();
  for (let i = 0; i < iterations; i++) mutatePod(pod, 'ns-7', policies);
  return ((performance.now() - t) / iterations) * 1000;
}

export async function benchWebhooks(): Promise<BenchRow[]> {
  const seconds = durationSeconds();
  const body = reviewBody();
  const at = `${RATE}/s for ${seconds} s`;
  const { baseline, webhook } = await measureBoth(body, seconds);
  const rows: BenchRow[] = [
    {
      suite: SUITE,
      metric: `(a) admission latency p50, ${at}`,
      value: webhook.p50,
      unit: 'ms',
      baseline: { name: 'trivial HTTPS', value: baseline.p50 },
      ratio: webhook.p50 / baseline.p50,
    },
    {
      suite: SUITE,
      metric: `(a) admission latency p99, ${at}`,
      value: webhook.p99,
      unit: 'ms',
      baseline: { name: 'trivial HTTPS', value: baseline.p99 },
      ratio: webhook.p99 / baseline.p99,
      target: '<= 2x trivial HTTPS',
      met: webhook.p99 <= 2 * baseline.p99,
    },
    {
      suite: SUITE,
      metric: `(a) failed reviews, ${at}`,
      value: webhook.errors,
      unit: 'requests',
      baseline: { name: 'trivial HTTPS', value: baseline.errors },
      target: '0',
      met: webhook.errors === 0,
    },
    {
      suite: SUITE,
      metric: '(b) webhook server RSS after the load (220 policies)',
      value: webhook.rss / 2 ** 20,
      unit: 'MB',
      baseline: { name: 'trivial HTTPS', value: baseline.rss / 2 ** 20 },
      ratio: webhook.rss / baseline.rss,
    },
    {
      suite: SUITE,
      metric: '(b) server CPU per review',
      value: webhook.cpuUsPerReview,
      unit: 'us',
      baseline: { name: 'trivial HTTPS', value: baseline.cpuUsPerReview },
      ratio: webhook.cpuUsPerReview / baseline.cpuUsPerReview,
    },
    {
      suite: SUITE,
      metric: '(c) pod mutation decision, 220 policies',
      value: benchDecision(20_000),
      unit: 'us',
    },
  ];
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === CHILD_FLAG) {
  child(process.argv[3] ?? 'webhook').catch((err: unknown) => {
    process.stderr.write(`webhooks bench child failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
