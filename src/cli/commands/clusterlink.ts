/**
 * ClusterLink daemons as kosmosctl commands: `agent | elector | network-manager |
 * clusterlink-controller`.
 *
 * State lives in the host cluster's kosmos.io objects with `--kubeconfig` (production), in
 * Redis otherwise (the lab). With `--kubeconfig`, a `--redis-url` only carries the BullMQ
 * nudges from the network manager to the agents; without one, agents follow their NodeConfig
 * watch.
 */
import { isIP } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_RP_FILTER_DEVICES, parseDeviceList } from '../../clusterlink/agent/node-settings.js';
import {
  runAgent,
  runController,
  runElector,
  runNetworkManager,
  type StoreTarget,
  untilSignal,
} from '../../clusterlink/run.js';

function positiveMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError('must be a positive number of milliseconds');
  return n;
}

/** `--node-ip a,b`: each an IPv4 or IPv6 address. */
function ipList(value: string): string[] {
  const ips = value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = ips.find((ip) => isIP(ip) === 0);
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not an IP address`);
  return ips;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new InvalidArgumentError('must be a TCP port');
  return n;
}

interface StoreFlags {
  kubeconfig?: string;
  leaseNamespace?: string;
  redisUrl?: string;
  prefix: string;
  healthPort?: number;
}

const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

const withStore = (c: Command) =>
  c
    .option('--kubeconfig <file>', 'host cluster kubeconfig: state in the kosmos.io objects and Leases')
    .option('--lease-namespace <ns>', 'namespace of the gateway Leases (with --kubeconfig)')
    .option(
      '--redis-url <url>',
      `Redis holding ClusterLink state; with --kubeconfig, only the agent nudges (default $REDIS_URL or ${DEFAULT_REDIS} without --kubeconfig)`,
    )
    .option('--prefix <prefix>', 'key prefix of this deployment in Redis', 'kosmos:clusterlink')
    .option('--health-port <port>', 'serve GET /healthz on 127.0.0.1:<port>', port);

function target(f: StoreFlags): StoreTarget & { healthPort?: number } {
  const health = f.healthPort ? { healthPort: f.healthPort } : {};
  if (f.kubeconfig)
    return {
      kubeconfig: f.kubeconfig,
      prefix: f.prefix,
      ...(f.leaseNamespace ? { leaseNamespace: f.leaseNamespace } : {}),
      ...(f.redisUrl ? { redisUrl: f.redisUrl } : {}),
      ...health,
    };
  return { redisUrl: f.redisUrl ?? process.env['REDIS_URL'] ?? DEFAULT_REDIS, prefix: f.prefix, ...health };
}

export function clusterlinkCommands(): Command[] {
  const agent = withStore(new Command('agent'))
    .description(
      'make this node match its NodeConfig (vxlan devices, table-200 routes, FDB/ARP, NAT) and report status',
    )
    .requiredOption('--name <name>', 'NodeConfig name: <cluster>-<node>')
    .option('--elector <cluster>', 'also stand for gateway of this cluster')
    .option('--resync-ms <ms>', 'drift repair period', positiveMs, 10_000)
    .option(
      '--node-ip <ips>',
      'this node\'s addresses (comma separated): a NodeConfig bound to "*" uses the interface holding them',
      ipList,
    )
    .option(
      '--sysctl-root <dir>',
      "where the node's /proc/sys is writable (in a pod: the host's /proc/sys/net mounted at <dir>/net)",
      '/proc/sys',
    )
    .option(
      '--rp-filter-devices <names>',
      'CNI devices that get loose reverse-path filtering (comma separated, * ends a prefix)',
      parseDeviceList,
      [...DEFAULT_RP_FILTER_DEVICES],
    )
    .action(
      async (
        f: StoreFlags & {
          name: string;
          elector?: string;
          resyncMs: number;
          nodeIp?: string[];
          sysctlRoot: string;
          rpFilterDevices: string[];
        },
      ) => {
        untilSignal(
          await runAgent({
            ...target(f),
            name: f.name,
            resyncMs: f.resyncMs,
            nodeIPs: f.nodeIp ?? [],
            sysctlRoot: f.sysctlRoot,
            rpFilterDevices: f.rpFilterDevices,
            ...(f.elector ? { elector: { cluster: f.elector } } : {}),
          }),
        );
      },
    );
  const elector = withStore(new Command('elector'))
    .description('stand for the gateway role of a gateway-mode cluster (lease-based)')
    .requiredOption('--cluster <name>', 'cluster name')
    .requiredOption('--name <name>', 'ClusterNode name of this node: <cluster>-<node>')
    .action(async (f: StoreFlags & { cluster: string; name: string }) => {
      untilSignal(await runElector({ ...target(f), cluster: f.cluster, name: f.name }));
    });
  const manager = withStore(new Command('network-manager'))
    .description('compute every node’s NodeConfig from Clusters and ClusterNodes')
    .option('--resync-ms <ms>', 'full recompute period', positiveMs, 30_000)
    .action(async (f: StoreFlags & { resyncMs: number }) => {
      untilSignal(await runNetworkManager({ ...target(f), resyncMs: f.resyncMs }));
    });
  const controller = new Command('clusterlink-controller')
    .description(
      'keep a ClusterNode per member Node and Cluster.status.clusterLinkStatus in the host cluster',
    )
    .requiredOption('--kubeconfig <file>', 'host cluster kubeconfig')
    .option(
      '--cluster <name>',
      'serve only this Cluster (default: every Cluster with clusterLinkOptions, members from their Cluster objects)',
    )
    .option(
      '--member-kubeconfig <file>',
      'with --cluster: the member cluster’s kubeconfig (default: from its Cluster object)',
    )
    .option('--period-ms <ms>', 'how often the member Nodes are read', positiveMs, 30_000)
    .option('--health-port <port>', 'serve GET /healthz on 127.0.0.1:<port>', port)
    .action(
      async (f: {
        kubeconfig: string;
        cluster?: string;
        memberKubeconfig?: string;
        periodMs: number;
        healthPort?: number;
      }) => {
        if (f.memberKubeconfig && !f.cluster)
          throw new InvalidArgumentError('--member-kubeconfig needs --cluster');
        untilSignal(
          await runController({
            kubeconfig: f.kubeconfig,
            periodMs: f.periodMs,
            ...(f.cluster ? { cluster: f.cluster } : {}),
            ...(f.memberKubeconfig ? { memberKubeconfig: f.memberKubeconfig } : {}),
            ...(f.healthPort ? { healthPort: f.healthPort } : {}),
          }),
        );
      },
    );
  return [agent, elector, manager, controller];
}
