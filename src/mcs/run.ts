/**
 * Process wiring of the MCS components: the controller (watches all members, serves
 * /healthz /readyz /metrics) and the DNS server. Each returns a handle that stops it, and
 * stops on SIGTERM/SIGINT when run as a command.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import type { Server } from 'node:http';
import type { KubeObject } from '../api/meta.js';
import { KubeClient, loadKubeConfig } from '../common/kube.js';
import { createLogger, errorFields, type Logger } from '../common/logger.js';
import { createRegistry, observabilityRouter } from '../common/observability.js';
import { KosmosError } from '../common/errors.js';
import { MCS_FIELD_MANAGER } from './constants.js';
import { crdFile, MCS_CRDS } from './crds.js';
import { hostClusterSource, staticSource, type ClusterSource } from './controller/clusters.js';
import { McsController } from './controller/controller.js';
import { parseCidr } from './derive/ip.js';
import { createResolver } from './dns/resolver.js';
import { startDnsServer } from './dns/server.js';
import { ImportIndexSource } from './dns/source.js';

export interface ControllerFlags {
  cluster: string[];
  kubeconfig?: string | undefined;
  hostName: string;
  clustersetCidr: string[];
  /** Where ClusterSetIP addresses come from (DeriveOptions.ipSource). */
  clustersetIp: 'service' | 'cidr';
  autoMcsPrefix: string[];
  reservedNamespaces: string[];
  installCrds: boolean;
  metricsAddress: string;
  metricsPort: number;
}

export interface DnsFlags {
  kubeconfig?: string | undefined;
  address: string;
  port: number;
  zone: string;
  ttl: number;
  metricsPort?: number | undefined;
  metricsAddress: string;
}

export interface Running {
  /** Ports actually bound (useful with 0). */
  ports: Record<string, number>;
  stop(): Promise<void>;
}

async function listen(
  app: express.Express,
  port: number,
  address: string,
): Promise<{ server: Server; port: number }> {
  return await new Promise((resolve, reject) => {
    const server = app.listen(port, address, (err?: Error) => {
      if (err) reject(new KosmosError(`listen on ${address}:${port}: ${err.message}`, { cause: err }));
      const a = server.address();
      resolve({ server, port: a && typeof a === 'object' ? a.port : port });
    });
  });
}

/** Server-side applies both CRDs and waits until they are Established. */
export async function installCrds(client: KubeClient, log: Logger): Promise<void> {
  for (const crd of MCS_CRDS) {
    await client.apply({ ...crd }, MCS_FIELD_MANAGER);
  }
  const deadline = Date.now() + 30_000;
  for (const crd of MCS_CRDS) {
    for (;;) {
      const got = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >('apiextensions.k8s.io/v1', 'CustomResourceDefinition', crd.metadata.name);
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new KosmosError(`CRD ${crd.metadata.name} is not Established after 30s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  log.info('MCS CRDs installed', { server: client.server });
}

/**
 * Installs the CRDs in each member the first time the source lists it, including members
 * that join later (a Cluster created after start): until then their lists would fail and
 * the controller would never call its caches synced.
 */
export function withCrdInstall(source: ClusterSource, log: Logger): ClusterSource {
  const installed = new Set<string>();
  return {
    list: async () => {
      const members = await source.list();
      for (const m of members) {
        const key = `${m.name}\u0000${m.kubeConfig.getCurrentCluster()?.server ?? ''}`;
        if (installed.has(key)) continue;
        const client = new KubeClient(m.kubeConfig);
        try {
          await installCrds(client, log.child({ cluster: m.name }));
          installed.add(key);
        } catch (err) {
          // Tried again at the next listing; the member's caches wait for it.
          log.warn('installing the MCS CRDs failed', { cluster: m.name, ...errorFields(err) });
        } finally {
          client.close();
        }
      }
      return members;
    },
  };
}

export function writeCrdFiles(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return MCS_CRDS.map((c) => {
    const f = crdFile(c);
    writeFileSync(join(dir, f.name), f.content);
    return join(dir, f.name);
  });
}

export async function runController(flags: ControllerFlags): Promise<Running> {
  const log = createLogger('mcs-controller');
  // Without --cluster, the members are the host (--kubeconfig, else KUBECONFIG or in-cluster) and its Cluster objects.
  let source: ClusterSource =
    flags.cluster.length > 0
      ? staticSource(flags.cluster)
      : hostClusterSource(flags.kubeconfig, flags.hostName, (cluster, e) =>
          log.warn('cannot read member cluster credentials', { cluster, ...errorFields(e) }),
        );
  const cidrs = flags.clustersetCidr.map((c) => parseCidr(c));
  const families = cidrs.map((c) => c.family);
  if (new Set(families).size !== families.length)
    throw new KosmosError(
      `--clusterset-cidr: at most one CIDR per IP family, got ${flags.clustersetCidr.join(', ')}`,
    );
  if (flags.installCrds) source = withCrdInstall(source, log);
  const registry = createRegistry('mcs-controller');
  // Always on: annotated Services and Namespaces are exported even without a prefix.
  const autoExport = { prefixes: flags.autoMcsPrefix, reservedNamespaces: flags.reservedNamespaces };
  const controller = new McsController({
    source,
    clustersetCidrs: cidrs,
    ipSource: flags.clustersetIp,
    autoExport,
    log,
    registry,
  });
  const app = express();
  app.use(observabilityRouter(registry, [{ name: 'caches-synced', check: () => controller.ready }]));
  app.get('/status', (_req, res) => {
    res.json(controller.status);
  });
  const http = await listen(app, flags.metricsPort, flags.metricsAddress);
  await controller.start();
  log.info('mcs-controller started', {
    port: http.port,
    clustersetCidrs: flags.clustersetCidr,
    autoMcsPrefix: flags.autoMcsPrefix,
  });
  return {
    ports: { http: http.port },
    stop: async () => {
      controller.stop();
      await new Promise<void>((r) => http.server.close(() => r()));
    },
  };
}

export async function runDns(flags: DnsFlags): Promise<Running> {
  const log = createLogger('mcs-dns');
  const client = new KubeClient(loadKubeConfig(flags.kubeconfig));
  const source = new ImportIndexSource(client, log);
  source.start();
  const registry = createRegistry('mcs-dns');
  const dns = await startDnsServer({
    port: flags.port,
    address: flags.address,
    resolve: createResolver({ zone: flags.zone, ttl: flags.ttl }),
    index: () => source.current(),
    serial: () => source.serial(),
    log,
    registry,
  });
  let http: { server: Server; port: number } | undefined;
  if (flags.metricsPort !== undefined) {
    const app = express();
    app.use(observabilityRouter(registry, [{ name: 'caches-synced', check: () => source.ready }]));
    http = await listen(app, flags.metricsPort, flags.metricsAddress);
  }
  log.info('mcs-dns started', {
    dnsPort: dns.port,
    address: flags.address,
    zone: flags.zone,
    ...(http ? { httpPort: http.port } : {}),
  });
  return {
    ports: { dns: dns.port, ...(http ? { http: http.port } : {}) },
    stop: async () => {
      source.stop();
      await dns.close();
      if (http) await new Promise<void>((r) => http.server.close(() => r()));
      client.close();
    },
  };
}
