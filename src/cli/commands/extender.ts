/** `kosmos extender`: run the kube-scheduler extender until SIGINT/SIGTERM. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../../common/errors.js';
import { loadKubeConfigForCommand } from '../../common/kube.js';
import { createLogger } from '../../common/logger.js';
import type { LeafPacking, LeafPreference } from '../../extender/placement/engine.js';
import { EXTENDER_REDIS_PREFIX } from '../../extender/defaults.js';
import { startExtender } from '../../extender/server.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number from 0 to 65535');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

interface ExtenderFlags {
  port: number;
  host: string;
  kubeconfig?: string;
  redisUrl?: string;
  redisPrefix: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsGenerate?: boolean;
  preference: LeafPreference;
  packing: LeafPacking;
  reservationTtl: number;
  leafClusters: boolean;
}

export function extenderCommand(): Command {
  return new Command('extender')
    .description('run the kube-scheduler extender (filter, prioritize, bind) for host and leaf nodes')
    .addOption(
      new Option('--port <port>', 'listen port (config/scheduler-config.yaml expects 10262)')
        .default(10262)
        .argParser(port),
    )
    .option('--host <address>', 'listen address', '127.0.0.1')
    .option(
      '--kubeconfig <path>',
      'host cluster kubeconfig (default: KUBECONFIG, ~/.kube/config or in-cluster)',
    )
    .option('--redis-url <url>', 'share reservations with other extender replicas through this Redis')
    .option('--redis-prefix <prefix>', 'key prefix in Redis', EXTENDER_REDIS_PREFIX)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option('--tls-generate', 'serve HTTPS with a generated self-signed certificate')
    .addOption(
      new Option('--preference <order>', 'host/leaf order for pods that may use both')
        .choices(['host-first', 'leaf-first', 'capacity'])
        .default('host-first'),
    )
    .addOption(
      new Option('--packing <mode>', 'order among leaf nodes')
        .choices(['best-fit', 'spread'])
        .default('best-fit'),
    )
    .addOption(
      new Option('--reservation-ttl <seconds>', 'how long an unbound decision holds its slot')
        .default(30)
        .argParser(seconds),
    )
    .option('--no-leaf-clusters', 'do not read member nodes of leaf clusters (no fragmented-fit check)')
    .action(async (flags: ExtenderFlags) => {
      if (!!flags.tlsCert !== !!flags.tlsKey) throw new UserError('--tls-cert and --tls-key go together');
      const log = createLogger('extender');
      const kc = loadKubeConfigForCommand(flags.kubeconfig);
      const ext = await startExtender({
        port: flags.port,
        host: flags.host,
        kubeconfig: kc,
        watchLeafClusters: flags.leafClusters,
        ...(flags.redisUrl ? { redisUrl: flags.redisUrl, redisPrefix: flags.redisPrefix } : {}),
        ...(flags.tlsCert && flags.tlsKey
          ? { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey } }
          : flags.tlsGenerate
            ? { tls: { generate: true as const } }
            : {}),
        placement: { preference: flags.preference, packing: flags.packing },
        reservationTtlMs: flags.reservationTtl * 1000,
        logger: log,
      });
      process.stdout.write(`kosmos extender listening on ${ext.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await ext.close();
    });
}
