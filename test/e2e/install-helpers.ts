/**
 * A local "kubelet" for the install e2e. The sandbox has no container runtime, so each
 * container a rendered manifest declares is started as a local process with exactly its
 * entry point (the image's ENTRYPOINT `node dist/cli/main.js`), arguments and environment,
 * resolved as the kubelet would. What must differ on one machine is rewritten here, and
 * only here, each rewrite listed in `Plan.rewrites`:
 *
 *   1. the Kosmos image's entry point runs from this checkout (process.execPath dist/cli/main.js);
 *      the stock kube-scheduler image runs the sandbox's kube-scheduler binary;
 *   2. in-cluster credentials (the pod's ServiceAccount token) become a kubeconfig holding a
 *      TokenRequest token of that same ServiceAccount, so RBAC is the manifests' own;
 *   3. fieldRef status.podIP is 127.0.0.1 (the process's address on this machine);
 *   4. every containerPort number given as an argument becomes a free port;
 *   5. in-cluster Service addresses (the bundled Redis, the extender, the webhooks) become
 *      the local addresses of what stands in for them (the sandbox's Redis, local processes);
 *   6. Secret and ConfigMap volumes are written to a folder of the test, and arguments under
 *      their mountPath point there;
 *   7. one process per Deployment, not per replica; hostNetwork DaemonSets that program the
 *      node's kernel (the ClusterLink agent) and the Redis Deployment are not started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from '../../src/api/meta.js';
import { KubeClient } from '../../src/common/kube.js';
import { CLI, kubectlPath, sleep } from './harness.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodTemplate {
  spec: {
    serviceAccountName?: string;
    hostNetwork?: boolean;
    containers: Container[];
    volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
  };
}

export interface Workload extends KubeObject {
  spec: { template: PodTemplate; selector: { matchLabels: Record<string, string> } };
}

/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace. */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The ENTRYPOINT of the one Kosmos image (Dockerfile); containers give only args. */
export const IMAGE_ENTRYPOINT = ['node', '/app/dist/cli/main.js'];
export const IN_CLUSTER_KUBECONFIG = '/etc/kosmos/in-cluster/kubeconfig';

export interface PodFacts {
  name: string;
  namespace: string;
  nodeName: string;
}

export interface PlanContext {
  cluster: string;
  pod: PodFacts;
  /** Reads a Secret or ConfigMap key of the pod's namespace. */
  lookup: (kind: 'Secret' | 'ConfigMap', name: string, key: string) => Promise<string>;
  /** Kubeconfig file holding the ServiceAccount's token (rewrite 2). */
  serviceAccountKubeconfig: string;
  ports: Map<number, number>;
  /** Exact-substring rewrites of in-cluster addresses (rewrite 5). */
  addresses: Record<string, string>;
  /** mountPath -> local folder holding the volume's files (rewrite 6). */
  mounts?: Record<string, string>;
}

export interface Plan {
  workload: string;
  cluster: string;
  container: string;
  argv: string[];
  env: Record<string, string>;
  rewrites: string[];
}

/** $(VAR) expansion of args, as the kubelet does it ($$ escapes; unknown names stay as written). */
export function expand(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in env ? (env[name] ?? '') : m,
  );
}

function readAddress(value: string, ctx: PlanContext, rewrites: string[]): string {
  let out = value;
  for (const [from, to] of Object.entries(ctx.addresses)) {
    if (out.includes(from)) {
      out = out.replaceAll(from, to);
      rewrites.push(`address ${from} -> ${to}`);
    }
  }
  return out;
}

export async function planContainer(w: Workload, c: Container, ctx: PlanContext): Promise<Plan> {
  const rewrites: string[] = [];
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    let v: string;
    if (e.value !== undefined) v = expand(e.value, env);
    else if (e.valueFrom?.fieldRef) {
      const p = e.valueFrom.fieldRef.fieldPath;
      if (p === 'metadata.name') v = ctx.pod.name;
      else if (p === 'metadata.namespace') v = ctx.pod.namespace;
      else if (p === 'spec.nodeName') v = ctx.pod.nodeName;
      else if (p === 'status.podIP') {
        v = '127.0.0.1';
        rewrites.push('status.podIP -> 127.0.0.1');
      } else
        throw new Error(
          `${w.metadata?.name}/${c.name}: env ${e.name}: fieldRef ${p} is not resolved by the local runtime`,
        );
    } else if (e.valueFrom?.secretKeyRef)
      v = await ctx.lookup('Secret', e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    else if (e.valueFrom?.configMapKeyRef)
      v = await ctx.lookup('ConfigMap', e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.key);
    else
      throw new Error(
        `${w.metadata?.name}/${c.name}: env ${e.name} has no value the local runtime can resolve`,
      );
    env[e.name] = readAddress(v, ctx, rewrites);
  }
  // In-cluster credentials (rewrite 2): the client libraries fall back to KUBECONFIG.
  env['KUBECONFIG'] = ctx.serviceAccountKubeconfig;
  let args = (c.args ?? []).map((a) => expand(a, env));
  for (const p of c.ports ?? []) {
    const local = ctx.ports.get(p.containerPort);
    if (local === undefined) continue;
    args = args.map((a) => {
      const out =
        a === String(p.containerPort)
          ? String(local)
          : a.replace(new RegExp(`^(--[a-z-]+=)${p.containerPort}$`), `$1${local}`);
      if (out !== a) rewrites.push(`port ${p.containerPort} -> ${local}`);
      return out;
    });
  }
  for (const [mountPath, local] of Object.entries(ctx.mounts ?? {})) {
    args = args.map((a) => {
      if (!a.startsWith(`${mountPath}/`)) return a;
      rewrites.push(`volume ${mountPath} -> ${local}`);
      return `${local}${a.slice(mountPath.length)}`;
    });
  }
  // The ServiceAccount volume every pod gets (rewrite 3): its files, next to the token kubeconfig.
  const saDir = join(dirname(ctx.serviceAccountKubeconfig), 'serviceaccount');
  args = args.map((a) => {
    if (!a.startsWith(`${SERVICE_ACCOUNT_DIR}/`)) return a;
    rewrites.push(`${SERVICE_ACCOUNT_DIR} -> ${saDir}`);
    return `${saDir}${a.slice(SERVICE_ACCOUNT_DIR.length)}`;
  });
  args = args.map((a) => {
    if (a !== IN_CLUSTER_KUBECONFIG) return a;
    rewrites.push(`${IN_CLUSTER_KUBECONFIG} -> ServiceAccount token kubeconfig`);
    return ctx.serviceAccountKubeconfig;
  });
  let argv: string[];
  if (c.command === undefined) {
    argv = [process.execPath, CLI, ...args];
    rewrites.push(`entrypoint ${IMAGE_ENTRYPOINT.join(' ')} -> ${process.execPath} ${CLI}`);
  } else if (c.command[0] === 'kube-scheduler') {
    argv = [join(dirname(kubectlPath()), 'kube-scheduler'), ...c.command.slice(1), ...args];
    rewrites.push('kube-scheduler image -> sandbox kube-scheduler binary');
  } else
    throw new Error(`${w.metadata?.name}/${c.name}: command ${c.command.join(' ')} is not runnable locally`);
  return { workload: w.metadata?.name ?? '', cluster: ctx.cluster, container: c.name, argv, env, rewrites };
}

/** Token of a ServiceAccount through TokenRequest, wrapped in a kubeconfig for the same apiserver. */
export async function serviceAccountKubeconfig(
  adminKubeconfig: string,
  namespace: string,
  serviceAccount: string,
  file: string,
): Promise<string> {
  const admin = KubeClient.fromFile(adminKubeconfig);
  try {
    const tr = await admin.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    );
    const cluster = admin.kubeConfig.getCurrentCluster();
    const ca = cluster?.caData ?? (cluster?.caFile ? readFileSync(cluster.caFile).toString('base64') : '');
    const kc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: admin.server, 'certificate-authority-data': ca } }],
      users: [
        { name: `system:serviceaccount:${namespace}:${serviceAccount}`, user: { token: tr.status.token } },
      ],
      contexts: [
        {
          name: 'c',
          context: { cluster: 'c', user: `system:serviceaccount:${namespace}:${serviceAccount}` },
        },
      ],
      'current-context': 'c',
    };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(kc));
    const saDir = join(dirname(file), 'serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'ca.crt'), Buffer.from(ca, 'base64'));
    writeFileSync(join(saDir, 'token'), tr.status.token);
    writeFileSync(join(saDir, 'namespace'), namespace);
    return file;
  } finally {
    admin.close();
  }
}

export interface Running {
  plan: Plan;
  child: ChildProcess;
  log: string;
}

export async function startPlan(plan: Plan, logDir: string): Promise<Running> {
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `${plan.cluster}-${plan.workload}-${plan.container}.log`);
  const out = createWriteStream(log, { flags: 'a' });
  const [bin, ...args] = plan.argv;
  const child = spawn(bin ?? '', args, {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...plan.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return { plan, child, log };
}

export async function stopAll(running: Running[]): Promise<void> {
  await Promise.all(
    running.map(async (r) => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) return;
      const exited = new Promise((res) => r.child.once('exit', res));
      r.child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }),
  );
}

/** Whether the local runtime starts this workload (rewrite 7). */
export function runsLocally(w: Workload): boolean {
  const name = w.metadata?.name ?? '';
  if (name === 'kosmos-redis') return false;
  const kernel = w.spec.template.spec.hostNetwork === true;
  return !kernel;
}

export interface ClusterTarget {
  name: string;
  kubeconfig: string;
}

/**
 * Starts every Deployment the cluster holds in the namespace (as installed: the live
 * objects are what the kubelet would run), resolving per-pod facts from one of the pods
 * kwok runs for it.
 */
export async function startWorkloads(
  target: ClusterTarget,
  namespace: string,
  o: { workDir: string; addresses: Record<string, string>; ports: Map<number, number> },
): Promise<Running[]> {
  const client = KubeClient.fromFile(target.kubeconfig);
  const running: Running[] = [];
  try {
    const deployments = (await client.list<Workload>('apps/v1', 'Deployment', { namespace })).items;
    for (const w of deployments) {
      if (!runsLocally(w)) continue;
      const selector = Object.entries(w.spec.selector.matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const pods = (
        await client.list<KubeObject & { spec: { nodeName?: string } }>('v1', 'Pod', {
          namespace,
          labelSelector: selector,
        })
      ).items;
      const pod = pods[0];
      if (!pod)
        throw new Error(`${target.name}: Deployment ${w.metadata?.name} has no pod to take facts from`);
      const sa = w.spec.template.spec.serviceAccountName ?? 'default';
      const kubeconfig = await serviceAccountKubeconfig(
        target.kubeconfig,
        namespace,
        sa,
        join(o.workDir, target.name, `${sa}.kubeconfig`),
      );
      const volumes = new Map((w.spec.template.spec.volumes ?? []).map((v) => [v.name, v]));
      for (const c of w.spec.template.spec.containers) {
        const mounts: Record<string, string> = {};
        for (const m of c.volumeMounts ?? []) {
          const v = volumes.get(m.name);
          const source = v?.secret
            ? { kind: 'Secret' as const, name: v.secret.secretName }
            : v?.configMap && m.mountPath !== dirname(IN_CLUSTER_KUBECONFIG)
              ? { kind: 'ConfigMap' as const, name: v.configMap.name }
              : undefined;
          if (!source) continue;
          const obj = await client.get<KubeObject & { data?: Record<string, string> }>(
            'v1',
            source.kind,
            source.name,
            namespace,
          );
          const local = join(o.workDir, target.name, w.metadata?.name ?? '', m.name);
          mkdirSync(local, { recursive: true });
          for (const [k, v64] of Object.entries(obj.data ?? {}))
            writeFileSync(join(local, k), source.kind === 'Secret' ? Buffer.from(v64, 'base64') : v64);
          mounts[m.mountPath] = local;
        }
        const plan = await planContainer(w, c, {
          mounts,
          cluster: target.name,
          pod: { name: pod.metadata?.name ?? '', namespace, nodeName: pod.spec.nodeName ?? '' },
          lookup: async (kind, name, key) => {
            const obj = await client.get<KubeObject & { data?: Record<string, string> }>(
              'v1',
              kind,
              name,
              namespace,
            );
            const raw = obj.data?.[key];
            if (raw === undefined) throw new Error(`${kind} ${namespace}/${name} has no key ${key}`);
            return kind === 'Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
          },
          serviceAccountKubeconfig: kubeconfig,
          ports: o.ports,
          addresses: o.addresses,
        });
        if (c.command?.[0] === 'kube-scheduler') {
          // The config comes from the ConfigMap volume, with its two in-cluster facts rewritten.
          const cm = await client.get<KubeObject & { data: Record<string, string> }>(
            'v1',
            'ConfigMap',
            'kosmos-scheduler-config',
            namespace,
          );
          const cfg = parse(cm.data['scheduler-config.yaml'] ?? '') as Record<string, unknown> & {
            clientConnection: { kubeconfig: string };
            extenders: { urlPrefix: string }[];
          };
          cfg.clientConnection.kubeconfig = kubeconfig;
          for (const e of cfg.extenders)
            e.urlPrefix = readAddress(
              e.urlPrefix,
              { ...({} as PlanContext), addresses: o.addresses },
              plan.rewrites,
            );
          const file = join(o.workDir, target.name, 'scheduler-config.yaml');
          writeFileSync(file, JSON.stringify(cfg));
          plan.argv = plan.argv.map((a) => (a.startsWith('--config=') ? `--config=${file}` : a));
          plan.argv.push('--secure-port=0');
          plan.rewrites.push('scheduler config from ConfigMap file, serving port off');
        }
        running.push(await startPlan(plan, join(o.workDir, 'logs')));
      }
    }
    return running;
  } finally {
    client.close();
  }
}

/** The apiserver cannot reach a Service without a pod network: point the webhooks at the local process (rewrite 5). */
export async function pointWebhooksAt(kubeconfig: string, url: string): Promise<void> {
  const client = KubeClient.fromFile(kubeconfig);
  try {
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const cfg = await client.get<
        KubeObject & {
          webhooks: {
            name: string;
            clientConfig: { service?: { path?: string }; caBundle?: string; url?: string };
          }[];
        }
      >('admissionregistration.k8s.io/v1', kind, 'kosmos-webhooks');
      for (const w of cfg.webhooks) {
        w.clientConfig = {
          url: `${url}${w.clientConfig.service?.path ?? ''}`,
          ...(w.clientConfig.caBundle ? { caBundle: w.clientConfig.caBundle } : {}),
        };
      }
      delete (cfg.metadata as Record<string, unknown>)['managedFields'];
      await client.request(
        'PUT',
        `/apis/admissionregistration.k8s.io/v1/${kind.toLowerCase()}s/kosmos-webhooks`,
        cfg,
      );
    }
  } finally {
    client.close();
  }
}

/** Waits until a local process accepts connections, failing with its log tail if it exits. */
export async function waitListening(r: Running, port: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (r.child.exitCode !== null) {
      const tail = readFileSync(r.log, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${r.plan.workload} exited with ${r.child.exitCode}:\n${tail}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(250);
  }
  throw new Error(`${r.plan.workload} is not listening on ${port}; see ${r.log}`);
}
