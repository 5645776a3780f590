/** `kosmos mcs-controller`, `kosmos mcs-dns` and `kosmos mcs-gen-crds`: Multi-Cluster Services. */
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_CLUSTERSET_CIDR,
  CLUSTERSET_ZONE,
  DEFAULT_DNS_TTL,
  DEFAULT_RESERVED_NAMESPACES,
} from '../../mcs/constants.js';
import { runController, runDns, writeCrdFiles, type Running } from '../../mcs/run.js';
import { stopAndReport } from '../../common/process.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port from 0 to 65535');
  return n;
}

function ttl(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 3600)
    throw new InvalidArgumentError('must be seconds from 0 to 3600');
  return n;
}

/** Keeps a long-running component up until SIGTERM/SIGINT, then stops it cleanly. */
async function untilSignal(running: Running): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = () => stopAndReport('kosmos mcs', () => running.stop(), resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export function mcsCommands(): Command[] {
  const controller = new Command('mcs-controller')
    .description(
      'export Services with ServiceExport and import them as ServiceImports and EndpointSlices in every member cluster',
    )
    .option(
      '--cluster <name=kubeconfig>',
      'a member cluster (repeatable); without it, members are the host plus its Cluster objects',
      collect,
      [],
    )
    .option('--kubeconfig <path>', 'host cluster kubeconfig: members come from its kosmos.io Cluster objects')
    .option('--host-name <name>', 'the host cluster name in source-cluster labels', 'host')
    .option(
      '--clusterset-cidr <cidr>',
      `with --clusterset-ip cidr: where clusterset IPs come from, one per IP family (repeatable; default ${DEFAULT_CLUSTERSET_CIDR})`,
      collect,
      [],
    )
    .addOption(
      new Option(
        '--clusterset-ip <source>',
        "ClusterSetIP addresses: 'service' gives each importing cluster a derived Service whose cluster IP its kube-proxy routes to every exporter's endpoints; 'cidr' takes one VIP per import from --clusterset-cidr that only DNS answers",
      )
        .choices(['service', 'cidr'])
        .default('service'),
    )
    .option(
      '--auto-mcs-prefix <prefix>',
      'export every Service of namespaces with this prefix (repeatable)',
      collect,
      [],
    )
    .option(
      '--reserved-namespaces <list>',
      'namespaces never exported automatically (comma separated)',
      DEFAULT_RESERVED_NAMESPACES.join(','),
    )
    .option('--install-crds', 'install the ServiceExport and ServiceImport CRDs in every member first', false)
    .option('--metrics-address <address>', 'address of /healthz /readyz /metrics', '127.0.0.1')
    .option('--metrics-port <port>', 'port of /healthz /readyz /metrics (0 picks one)', port, 8090)
    .action(
      async (o: {
        cluster: string[];
        kubeconfig?: string;
        hostName: string;
        clustersetCidr: string[];
        clustersetIp: 'service' | 'cidr';
        autoMcsPrefix: string[];
        reservedNamespaces: string;
        installCrds: boolean;
        metricsAddress: string;
        metricsPort: number;
      }) => {
        const running = await runController({
          ...o,
          clustersetCidr: o.clustersetCidr.length > 0 ? o.clustersetCidr : [DEFAULT_CLUSTERSET_CIDR],
          reservedNamespaces: o.reservedNamespaces
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        });
        await untilSignal(running);
      },
    );

  const dns = new Command('mcs-dns')
    .description('answer <service>.<namespace>.svc.clusterset.local from the ServiceImports of one cluster')
    .option('--kubeconfig <path>', 'the cluster whose imports are served (default: KUBECONFIG or in-cluster)')
    .option('--address <address>', 'listen address (UDP and TCP)', '0.0.0.0')
    .option('--port <port>', 'listen port (UDP and TCP; 0 picks one)', port, 53)
    .option('--zone <zone>', 'the clusterset zone', CLUSTERSET_ZONE)
    .option('--ttl <seconds>', 'TTL of answers', ttl, DEFAULT_DNS_TTL)
    .option('--metrics-address <address>', 'address of /healthz /readyz /metrics', '127.0.0.1')
    .option('--metrics-port <port>', 'port of /healthz /readyz /metrics (off unless set)', port)
    .action(
      async (o: {
        kubeconfig?: string;
        address: string;
        port: number;
        zone: string;
        ttl: number;
        metricsAddress: string;
        metricsPort?: number;
      }) => {
        await untilSignal(await runDns(o));
      },
    );

  const gen = new Command('mcs-gen-crds')
    .description('write the ServiceExport and ServiceImport CRDs as YAML')
    .option('--out <dir>', 'output folder', 'deploy/mcs')
    .action((o: { out: string }) => {
      for (const f of writeCrdFiles(o.out)) process.stdout.write(`${f}\n`);
    });

  return [controller, dns, gen];
}
