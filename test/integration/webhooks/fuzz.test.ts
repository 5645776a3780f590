/**
 * 10 000 random and mutated AdmissionReviews over real HTTPS: no crash, no 5xx, every answer
 * well-formed. Reviews come from a seeded generator, so a failure names the seed that
 * reproduces it (KOSMOS_FUZZ_SEED=<n> to replay).
 */
import { Agent, request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, LABEL_CLUSTER, LABEL_NODE, LABEL_ZONE } from '../../../src/api/constants.js';
import { createLogger } from '../../../src/common/logger.js';
import { WEBHOOK_PATHS, startWebhookServer, type WebhookServer } from '../../../src/webhooks/server.js';
import { InMemorySources } from '../../../src/webhooks/sources.js';
import { KUBECONFIG, cdp, cluster, dp, pod } from '../../unit/webhooks/fixtures.js';

const TOTAL = 10_000;
const IN_FLIGHT = 32;
const SEED = Number(process.env['KOSMOS_FUZZ_SEED'] ?? 20261125);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const STRINGS = [
  '',
  'a',
  'web',
  LABEL_NODE,
  LABEL_CLUSTER,
  LABEL_ZONE,
  'true',
  'host',
  'leaf',
  'adv',
  '10.0.0.0/8',
  'fd00::/64',
  '💥',
  'x'.repeat(300),
  '../../etc',
  '\u0000',
  '{"a":1}',
];
function randomValue(depth = 0): unknown {
  switch (Math.floor(rand() * (depth > 3 ? 6 : 9))) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.floor(rand() * 2000) - 1000;
    case 3:
      return rand() * 1e12;
    case 4:
      return pick(STRINGS);
    case 5:
      return undefined;
    case 6:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(rand() * 4); i++) o[pick(STRINGS) || 'k'] = randomValue(depth + 1);
      return o;
    }
  }
}

/** Replaces, deletes or adds one random field somewhere in `obj`, in place. */
function mutate(obj: unknown): void {
  let node = obj;
  for (let depth = 0; depth < 8; depth++) {
    if (node === null || typeof node !== 'object') return;
    const container = node as Record<string, unknown>;
    const keys = Object.keys(container);
    if (keys.length === 0 || rand() < 0.25) {
      const key = keys.length > 0 && rand() < 0.7 ? pick(keys) : pick(STRINGS) || 'extra';
      const r = rand();
      if (r < 0.4) delete container[key];
      else container[key] = randomValue();
      return;
    }
    node = container[pick(keys)];
  }
}

const policies = [
  dp(
    'web',
    [{ labelSelector: { matchLabels: { app: 'web' } }, policyName: 'spread' }],
    [
      {
        name: 'spread',
        nodeType: 'leaf',
        topologySpreadConstraints: [{ topologyKey: LABEL_ZONE }],
        topologyAffinity: [{ topologyKey: LABEL_CLUSTER, values: ['leaf-1'] }],
      },
    ],
  ),
  cdp('all', [{ namePrefix: 'p', policyName: 'h' }], [{ name: 'h', nodeType: 'host' }]),
];
const sources = new InMemorySources(policies, [
  cluster('other', { clusterLinkOptions: { globalCIDRsMap: { '10.0.0.0/16': '100.64.0.0/16' } } }),
]);

function seedObject(): { kind: { group: string; version: string; kind: string }; object: unknown } {
  const core = { group: '', version: 'v1', kind: 'Pod' };
  const kosmos = (kind: string) => ({ group: GROUP, version: 'v1alpha1', kind });
  switch (Math.floor(rand() * 6)) {
    case 0:
    case 1:
      return {
        kind: core,
        object: pod(
          pick(['web-1', 'p-1', 'x']),
          { nodeSelector: { [LABEL_NODE]: 'true' } },
          { app: 'web', 'pod-template-hash': 'abc' },
        ),
      };
    case 2:
      return { kind: kosmos('DistributionPolicy'), object: structuredClone(policies[0]) };
    case 3:
      return {
        kind: kosmos('Cluster'),
        object: cluster(
          'c',
          {
            kubeconfig: KUBECONFIG,
            clusterLinkOptions: { ipFamily: 'ipv4', globalCIDRsMap: { '10.1.0.0/16': '100.64.0.0/16' } },
          },
          { clusterLinkStatus: { podCIDRs: ['10.1.0.0/16'] } },
        ),
      };
    case 4:
      return {
        kind: kosmos('WorkloadPolicy'),
        object: {
          apiVersion: API_VERSION,
          kind: 'WorkloadPolicy',
          metadata: { name: 'w' },
          spec: {
            topologyKey: LABEL_CLUSTER,
            labelSelector: { matchLabels: { a: 'b' } },
            allocationPolicy: [{ name: 'x', replicas: 1 }],
          },
        },
      };
    default:
      return {
        kind: kosmos(pick(['PodConvertPolicy', 'ClusterPodConvertPolicy', 'ClusterNode', 'Nope'])),
        object: {
          apiVersion: API_VERSION,
          kind: 'PodConvertPolicy',
          metadata: { name: 'p' },
          spec: {
            labelSelector: { matchLabels: { a: 'b' } },
            converters: { nodeNameConverter: { convertType: 'replace', nodeName: 'n' } },
          },
        },
      };
  }
}

function nextBody(i: number): { body: string; uid: string } {
  const uid = `fuzz-${i}`;
  const r = rand();
  if (r < 0.05) {
    // Raw garbage: random bytes or truncated JSON.
    const bytes = Buffer.from(
      Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)),
    );
    return {
      body:
        rand() < 0.5
          ? bytes.toString('latin1')
          : JSON.stringify({ apiVersion: 'admission.k8s.io/v1' }).slice(0, Math.floor(rand() * 30)),
      uid,
    };
  }
  if (r < 0.1) return { body: JSON.stringify(randomValue()) ?? 'null', uid };
  const { kind, object } = seedObject();
  const review: Record<string, unknown> = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind,
      operation: pick(['CREATE', 'CREATE', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
      namespace: 'default',
      name: 'n',
      object,
      oldObject: rand() < 0.3 ? structuredClone(object) : undefined,
    },
  };
  const mutations = Math.floor(rand() * 6);
  for (let m = 0; m < mutations; m++) mutate(rand() < 0.15 ? review : review['request']);
  return { body: JSON.stringify(review), uid };
}

/** The uid the review actually carries after mutation (`fallback` when it has none). */
function sentUid(sent: string, fallback: string): unknown {
  try {
    const review = JSON.parse(sent) as { request?: { uid?: unknown } };
    return review.request?.uid ?? fallback;
  } catch {
    return fallback;
  }
}

interface Answer {
  status: number;
  text: string;
}

const errorLines: string[] = [];

describe('webhook fuzzing', () => {
  let server: WebhookServer;
  let agent: Agent;
  beforeAll(async () => {
    server = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      policies: sources,
      clusters: sources,
      logger: createLogger('fuzz', {}, (line) => {
        if (line.includes('"level":"error"')) errorLines.push(line);
      }),
    });
    agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: server.caPem });
  });
  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  function send(path: string, body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${server.url}${path}`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Why an answer is not well-formed, or undefined. */
  function problem(answer: Answer, sent: string, uid: string): string | undefined {
    if (answer.status >= 500) return `HTTP ${answer.status}`;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(answer.text) as Record<string, unknown>;
    } catch {
      return `HTTP ${answer.status} body is not JSON: ${answer.text.slice(0, 80)}`;
    }
    if (answer.status === 400 || answer.status === 413) {
      return typeof parsed['message'] === 'string' && parsed['message'] !== ''
        ? undefined
        : '4xx without a reason';
    }
    if (answer.status !== 200) return `unexpected HTTP ${answer.status}`;
    const response = parsed['response'] as Record<string, unknown> | undefined;
    if (parsed['apiVersion'] !== 'admission.k8s.io/v1' || parsed['kind'] !== 'AdmissionReview' || !response)
      return 'not an AdmissionReview';
    // A 200 is only for reviews whose uid we could read (a mutation may have changed it): it must be echoed.
    if (response['uid'] !== sentUid(sent, uid)) return `uid ${String(response['uid'])} not echoed`;
    if (typeof response['allowed'] !== 'boolean') return 'allowed is not a boolean';
    if (response['patch'] !== undefined) {
      if (response['patchType'] !== 'JSONPatch') return 'patch without patchType JSONPatch';
      const ops = JSON.parse(Buffer.from(response['patch'] as string, 'base64').toString('utf8')) as unknown;
      if (!Array.isArray(ops) || ops.some((o) => typeof (o as { path?: unknown }).path !== 'string'))
        return 'patch is not a JSONPatch';
    }
    if (!response['allowed']) {
      const status = response['status'] as { message?: unknown } | undefined;
      if (typeof status?.message !== 'string' || status.message === '') return 'refusal without a message';
    }
    return undefined;
  }

  it(`GIVEN ${TOTAL} random and mutated AdmissionReviews THEN every answer is well-formed, none is a 5xx, and the server keeps serving`, async () => {
    const paths = Object.values(WEBHOOK_PATHS);
    const failures: string[] = [];
    const counts: Record<number, number> = {};
    let next = 0;
    async function worker(): Promise<void> {
      while (next < TOTAL) {
        const i = next++;
        const path = pick(paths);
        const { body, uid } = nextBody(i);
        const answer = await send(path, body);
        counts[answer.status] = (counts[answer.status] ?? 0) + 1;
        const p = problem(answer, body, uid);
        if (p && failures.length < 20) failures.push(`#${i} ${path}: ${p}\n  sent: ${body.slice(0, 300)}`);
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    expect(failures, `seed ${SEED}; answers by status ${JSON.stringify(counts)}`).toEqual([]);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // Both kinds of answers were exercised, not just one.
    expect(counts[200]).toBeGreaterThan(TOTAL / 2);
    expect(counts[400]).toBeGreaterThan(0);
    const health = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${server.url}/healthz`, { agent }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(health).toBe(200);
    // No handler threw: the catch-all that keeps answers well-formed was never needed.
    const outcomes = (await server.metrics.requests.get()).values;
    expect(
      outcomes.filter((v) => v.labels.result === 'error' && v.value > 0),
      errorLines.join('\n'),
    ).toEqual([]);
  });
});
