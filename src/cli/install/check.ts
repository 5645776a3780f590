/**
 * `kosmosctl check`: can every node (or pod) of one cluster reach every node (or pod) of
 * another? A probe DaemonSet ("floater") runs in both clusters; each source probe pings
 * each destination probe's IP through pod exec. The pair list, the ping verdict and the
 * table are pure; the rest needs real kubelets and a container runtime.
 */
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { LABEL_NODE } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import { UserError, describeError } from '../../common/errors.js';
import type { KubeClient } from '../../common/kube.js';
import { formatTable } from '../table.js';
import { applyObjects, deleteObjects, waitForWorkloads } from './apply.js';
import type { Progress } from './progress.js';
import { LABEL_MANAGED_BY, LABEL_PART_OF, MANAGED_BY, PART_OF } from './values.js';

export const FLOATER = 'kosmos-floater';

export interface Probe {
  cluster: string;
  pod: string;
  node: string;
  ip: string;
}

export type Verdict = 'PASS' | 'FAIL' | 'ERROR';

export interface PairResult {
  src: Probe;
  dst: Probe;
  verdict: Verdict;
  detail?: string;
}

/** Every source probe against every destination probe (a full mesh when both are one cluster), skipping self. */
export function pairs(src: Probe[], dst: Probe[]): [Probe, Probe][] {
  const out: [Probe, Probe][] = [];
  for (const s of src)
    for (const d of dst) if (!(s.cluster === d.cluster && s.pod === d.pod)) out.push([s, d]);
  return out;
}

/** busybox and iputils both print "1 packets transmitted, 1 (packets) received". */
export function pingSucceeded(output: string): boolean {
  return /1 packets transmitted, 1 (packets )?received/.test(output);
}

export function checkTable(results: PairResult[]): string {
  return formatTable(
    ['#', 'SRC CLUSTER', 'SRC NODE', 'DST CLUSTER', 'DST NODE', 'TARGET IP', 'RESULT'],
    results.map((r, i) => [
      String(i + 1),
      r.src.cluster,
      r.src.node,
      r.dst.cluster,
      r.dst.node,
      r.dst.ip,
      r.verdict === 'PASS' ? 'PASS' : `${r.verdict}${r.detail ? ` (${r.detail})` : ''}`,
    ]),
  );
}

export function floaterDaemonSet(namespace: string, image: string, hostNetwork: boolean): KubeObject {
  const labels = { 'app.kubernetes.io/name': FLOATER, [LABEL_PART_OF]: PART_OF };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: FLOATER, namespace, labels: { ...labels, [LABEL_MANAGED_BY]: MANAGED_BY } },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': FLOATER } },
      template: {
        metadata: { labels },
        spec: {
          hostNetwork,
          automountServiceAccountToken: false,
          tolerations: [{ operator: 'Exists' }],
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_NODE, operator: 'DoesNotExist' }] }],
              },
            },
          },
          containers: [
            {
              name: 'floater',
              image,
              command: ['sleep', '86400'],
              // ping needs a raw socket, nothing more; as uid 0, because Kubernetes gives an
              // added capability to another user only through file capabilities.
              securityContext: {
                runAsUser: 0,
                capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
                allowPrivilegeEscalation: false,
              },
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
            },
          ],
        },
      },
    },
  } as KubeObject;
}

interface PodLike extends KubeObject {
  spec?: { nodeName?: string };
  status?: { podIP?: string; hostIP?: string; phase?: string };
}

async function probes(client: KubeClient, cluster: string, namespace: string): Promise<Probe[]> {
  const pods = await client.list<PodLike>('v1', 'Pod', {
    namespace,
    labelSelector: `app.kubernetes.io/name=${FLOATER}`,
  });
  return pods.items
    .filter((p) => p.status?.phase === 'Running' && p.status.podIP)
    .map((p) => ({
      cluster,
      pod: p.metadata?.name ?? '',
      node: p.spec?.nodeName ?? '',
      ip: p.status?.podIP ?? '',
    }));
}

async function execPing(
  kc: KubeConfig,
  namespace: string,
  src: Probe,
  ip: string,
  timeoutMs: number,
): Promise<{ ok: boolean; detail?: string }> {
  const { Exec } = await import('@kubernetes/client-node');
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, detail: 'timeout' }), timeoutMs);
    new Exec(kc)
      .exec(
        namespace,
        src.pod,
        'floater',
        ['ping', '-c', '1', '-W', '2', ip],
        sink,
        sink,
        null,
        false,
        () => {
          clearTimeout(timer);
          resolve(
            pingSucceeded(out) ? { ok: true } : { ok: false, detail: out.trim().split('\n').pop() ?? '' },
          );
        },
      )
      .catch((e: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, detail: `exec: ${describeError(e)}` });
      });
  });
}

export interface CheckSide {
  name: string;
  client: KubeClient;
  kubeConfig: KubeConfig;
}

export async function check(
  src: CheckSide,
  dst: CheckSide | undefined,
  o: { namespace: string; image: string; hostNetwork: boolean; timeoutMs: number; progress: Progress },
): Promise<PairResult[]> {
  const sides = dst ? [src, dst] : [src];
  const ds = floaterDaemonSet(o.namespace, o.image, o.hostNetwork);
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } };
  const created: Map<CheckSide, boolean> = new Map();
  try {
    for (const side of sides) {
      const had = await side.client.getOrUndefined('v1', 'Namespace', o.namespace);
      created.set(side, !had);
      o.progress(`starting probes in ${side.name}`);
      await applyObjects(side.client, had ? [ds] : [ns, ds], { dryRun: false, progress: () => {} });
      await waitForWorkloads(side.client, [ds], { timeoutMs: o.timeoutMs, progress: o.progress });
    }
    const srcProbes = await probes(src.client, src.name, o.namespace);
    const dstProbes = dst ? await probes(dst.client, dst.name, o.namespace) : srcProbes;
    if (srcProbes.length === 0) throw new UserError(`no running probe pod in ${src.name}`);
    const results: PairResult[] = [];
    for (const [s, d] of pairs(srcProbes, dstProbes)) {
      const r = await execPing(src.kubeConfig, o.namespace, s, d.ip, 10_000);
      results.push({
        src: s,
        dst: d,
        verdict: r.ok ? 'PASS' : r.detail?.startsWith('exec:') ? 'ERROR' : 'FAIL',
        ...(r.detail ? { detail: r.detail } : {}),
      });
    }
    return results;
  } finally {
    for (const side of sides) {
      await deleteObjects(side.client, created.get(side) ? [ns, ds] : [ds], {
        timeoutMs: o.timeoutMs,
        progress: () => {},
      }).catch((e: unknown) => o.progress(`cleaning up probes in ${side.name}: ${describeError(e)}`));
    }
  }
}
