/**
 * The Kosmos components `sandbox up` runs beside the clusters (skipped with --bare), each
 * as `node dist/cli/main.js <component>`: the one entry point the image uses too.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { API_VERSION } from '../../api/constants.js';
import type { Cluster } from '../../api/kinds.js';
import type { KubeObject } from '../../api/meta.js';
import { KubeClient } from '../../common/kube.js';
import { projectRoot } from '../paths.js';
import type { SandboxContext } from './context.js';
import { schedulerDef, type ComponentDef } from './control-plane.js';
import { HOST_CLUSTER } from './topology.js';

export const EXTENDER_URL_PLACEHOLDER = 'http://127.0.0.1:10262/';

function cli(): string {
  return join(projectRoot(), 'dist', 'cli', 'main.js');
}

function nodeComponent(
  ctx: SandboxContext,
  name: string,
  port: number,
  args: string[],
  health: string,
  cluster = HOST_CLUSTER,
): ComponentDef {
  const files = ctx.files(cluster);
  return {
    name,
    cluster,
    port,
    hint: cli(),
    health: { url: health, insecure: true },
    spec: {
      name: `${name} (${cluster})`,
      command: process.execPath,
      args: [cli(), name, ...args],
      env: { KOSMOS_LOG_LEVEL: process.env['KOSMOS_LOG_LEVEL'] ?? 'info' },
      logFile: join(files.dir, 'logs', `${name}.log`),
    },
  };
}

/** config/scheduler-config.yaml with the sandbox's kubeconfig and extender address. */
export function kosmosSchedulerConfig(template: string, kubeconfig: string, extenderUrl: string): string {
  const doc = parse(template) as {
    clientConnection?: Record<string, unknown>;
    leaderElection?: Record<string, unknown>;
    extenders?: { urlPrefix?: string }[];
  };
  doc.clientConnection = { ...doc.clientConnection, kubeconfig, qps: 500, burst: 1000 };
  doc.leaderElection = { leaderElect: false };
  for (const e of doc.extenders ?? []) {
    if (e.urlPrefix === EXTENDER_URL_PLACEHOLDER) e.urlPrefix = extenderUrl;
  }
  return stringify(doc);
}

/** Components to start once the apiservers answer, before the clusters' schedulers. */
export async function kosmosComponents(ctx: SandboxContext): Promise<ComponentDef[]> {
  const defs: ComponentDef[] = [];
  const host = ctx.files(HOST_CLUSTER);
  const has = (command: string) =>
    existsSync(join(projectRoot(), 'dist', 'cli', 'commands', `${command}.js`));

  if (has('extender')) {
    const port = await ctx.port('host/extender');
    defs.push(
      nodeComponent(
        ctx,
        'extender',
        port,
        ['--port', String(port), '--kubeconfig', host.kubeconfig, '--redis-url', ctx.state.redisUrl],
        `http://127.0.0.1:${port}/readyz`,
      ),
    );
  }
  if (has('webhooks')) {
    const port = await ctx.port('host/webhooks');
    const certDir = join(ctx.dir, 'webhooks');
    defs.push(
      nodeComponent(
        ctx,
        'webhooks',
        port,
        [
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--cert-dir',
          certDir,
          '--kubeconfig',
          host.kubeconfig,
          '--configurations-out',
          join(certDir, 'configurations.yaml'),
          '--url',
          `https://127.0.0.1:${port}`,
        ],
        `https://127.0.0.1:${port}/readyz`,
      ),
    );
  }

  if (has('clustertree')) {
    const port = await ctx.port('host/clustertree');
    const nodePort = await ctx.port('host/clustertree-node-server');
    defs.push(
      nodeComponent(
        ctx,
        'clustertree',
        port,
        [
          '--kubeconfig',
          host.kubeconfig,
          '--redis-url',
          ctx.state.redisUrl,
          '--port',
          String(port),
          '--node-server-port',
          String(nodePort),
          '--node-address',
          '127.0.0.1',
          // The host apiserver's --kubelet-client-certificate is issued by the sandbox CA.
          '--client-ca-file',
          host.caCert,
        ],
        `http://127.0.0.1:${port}/readyz`,
      ),
    );
  }

  if (has('mcs')) {
    const port = await ctx.port('host/mcs-controller');
    defs.push(
      nodeComponent(
        ctx,
        'mcs-controller',
        port,
        ['--kubeconfig', host.kubeconfig, '--install-crds', '--metrics-port', String(port)],
        `http://127.0.0.1:${port}/readyz`,
      ),
    );
    for (const cluster of ctx.state.topology.clusters) {
      const dnsPort = await ctx.port(`${cluster.name}/mcs-dns`);
      const metricsPort = await ctx.port(`${cluster.name}/mcs-dns-metrics`);
      defs.push(
        nodeComponent(
          ctx,
          'mcs-dns',
          dnsPort,
          [
            '--kubeconfig',
            ctx.files(cluster.name).kubeconfig,
            '--address',
            '127.0.0.1',
            '--port',
            String(dnsPort),
            '--metrics-port',
            String(metricsPort),
          ],
          `http://127.0.0.1:${metricsPort}/healthz`,
          cluster.name,
        ),
      );
    }
  }
  if (has('clusterlink')) {
    // ClusterLink's control plane in Kubernetes mode: desired state as kosmos.io objects in the
    // host. No agents run here (the sandbox's nodes are simulated), so no Redis for nudges.
    const controllerPort = await ctx.port('host/clusterlink-controller');
    defs.push(
      nodeComponent(
        ctx,
        'clusterlink-controller',
        controllerPort,
        ['--kubeconfig', host.kubeconfig, '--period-ms', '5000', '--health-port', String(controllerPort)],
        `http://127.0.0.1:${controllerPort}/healthz`,
      ),
    );
    const managerPort = await ctx.port('host/network-manager');
    defs.push(
      nodeComponent(
        ctx,
        'network-manager',
        managerPort,
        ['--kubeconfig', host.kubeconfig, '--resync-ms', '10000', '--health-port', String(managerPort)],
        `http://127.0.0.1:${managerPort}/healthz`,
      ),
    );
  }
  return defs;
}

/**
 * What the running components need from the clusters: the webhook configurations in the
 * host (with the webhook server's CA), and a Cluster object per leaf so ClusterTree,
 * the extender and MCS see the leaves joined (one virtual node per leaf cluster).
 */
export async function registerKosmos(ctx: SandboxContext): Promise<void> {
  const host = ctx.files(HOST_CLUSTER);
  const client = KubeClient.fromFile(host.kubeconfig);
  try {
    const configurations = join(ctx.dir, 'webhooks', 'configurations.yaml');
    if (ctx.state.ports['host/webhooks'] && existsSync(configurations)) {
      for (const doc of parseAllDocuments(readFileSync(configurations, 'utf8'))) {
        const obj = doc.toJSON() as KubeObject | null;
        if (obj?.kind) await client.apply(obj, 'kosmos-sandbox');
      }
    }
    for (const cluster of ctx.state.topology.clusters) {
      if (cluster.name === HOST_CLUSTER) continue;
      const kubeconfig = readFileSync(ctx.files(cluster.name).kubeconfig).toString('base64');
      const existing = await client.getOrUndefined<Cluster>(API_VERSION, 'Cluster', cluster.name);
      if (existing) continue; // joined already: a second `up` changes nothing
      ctx.progress(`joining ${cluster.name} (Cluster object in the host)`);
      await client.apply(
        {
          apiVersion: API_VERSION,
          kind: 'Cluster',
          metadata: { name: cluster.name },
          spec: {
            kubeconfig,
            clusterLinkOptions: {
              networkType: 'p2p',
              ipFamily: 'ipv4',
              serviceCIDRs: [cluster.serviceCIDR],
              // No agent runs on a simulated node to detect its NIC, and with '*' ClusterLink
              // leaves a node out until one reports it: name the NIC the nodes would have.
              defaultNICName: 'eth0',
            },
            clusterTreeOptions: { enable: true },
          },
        } satisfies Cluster,
        'kosmos-sandbox',
      );
    }
  } finally {
    client.close();
  }
}

/**
 * The host's kube-scheduler configuration: with the extender, Kosmos' configuration (it
 * serves both the kosmos-scheduler and default-scheduler profiles, as Kosmos replaces the
 * default scheduler); otherwise a plain one.
 */
export async function hostSchedulerConfig(ctx: SandboxContext): Promise<string | undefined> {
  const template = join(projectRoot(), 'config', 'scheduler-config.yaml');
  const extenderPort = ctx.state.ports['host/extender'];
  if (ctx.state.bare || !extenderPort || !existsSync(template)) return undefined;
  const host = ctx.files(HOST_CLUSTER);
  const file = join(host.dir, 'kosmos-scheduler.yaml');
  writeFileSync(
    file,
    kosmosSchedulerConfig(
      readFileSync(template, 'utf8'),
      host.kubeconfig,
      `http://127.0.0.1:${extenderPort}/`,
    ),
  );
  return file;
}

export { schedulerDef };
