/** ClusterLink daemons as kosmosctl commands: `clusterlink agent | elector | network-manager`. */
import { Command, InvalidArgumentError } from 'commander';
import { runAgent, runElector, runNetworkManager, untilSignal } from '../../clusterlink/run.js';

function positiveMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError('must be a positive number of milliseconds');
  return n;
}

interface RedisFlags {
  redisUrl: string;
  prefix: string;
}

const withRedis = (c: Command) =>
  c
    .option(
      '--redis-url <url>',
      'Redis holding ClusterLink state',
      process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    )
    .option('--prefix <prefix>', 'key prefix of this deployment in Redis', 'kosmos:clusterlink');

export function clusterlinkCommands(): Command[] {
  const agent = withRedis(new Command('agent'))
    .description(
      'make this node match its NodeConfig (vxlan devices, table-200 routes, FDB/ARP, NAT) and report status',
    )
    .requiredOption('--name <name>', 'NodeConfig name: <cluster>-<node>')
    .option('--elector <cluster>', 'also stand for gateway of this cluster')
    .option('--resync-ms <ms>', 'drift repair period', positiveMs, 10_000)
    .action(async (f: RedisFlags & { name: string; elector?: string; resyncMs: number }) => {
      untilSignal(
        await runAgent({
          redisUrl: f.redisUrl,
          prefix: f.prefix,
          name: f.name,
          resyncMs: f.resyncMs,
          ...(f.elector ? { elector: { cluster: f.elector } } : {}),
        }),
      );
    });
  const elector = withRedis(new Command('elector'))
    .description('stand for the gateway role of a gateway-mode cluster (lease-based)')
    .requiredOption('--cluster <name>', 'cluster name')
    .requiredOption('--name <name>', 'ClusterNode name of this node: <cluster>-<node>')
    .action(async (f: RedisFlags & { cluster: string; name: string }) => {
      untilSignal(
        await runElector({ redisUrl: f.redisUrl, prefix: f.prefix, cluster: f.cluster, name: f.name }),
      );
    });
  const manager = withRedis(new Command('network-manager'))
    .description('compute every node’s NodeConfig from Clusters and ClusterNodes')
    .option('--resync-ms <ms>', 'full recompute period', positiveMs, 30_000)
    .action(async (f: RedisFlags & { resyncMs: number }) => {
      untilSignal(await runNetworkManager({ redisUrl: f.redisUrl, prefix: f.prefix, resyncMs: f.resyncMs }));
    });
  return [agent, elector, manager];
}
