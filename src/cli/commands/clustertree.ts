/** `kosmos clustertree`: leaf clusters as virtual nodes, pod and dependency sync workers. */
import { hostname } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { runClusterTree } from '../../clustertree/run.js';
import { stopAndReport } from '../../common/process.js';

function int(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

/**
 * Jobs are I/O: a create or a status patch waits on an apiserver. `npm run bench` (1000-pod
 * burst): at 32, pods waited p50 3.9 s in the queue; at 96, 1.1 s; 64 sits between without
 * sending more than 64 requests at once to any apiserver.
 */
export const DEFAULT_CONCURRENCY = 64;

export function clustertreeCommand(): Command {
  return new Command('clustertree')
    .description(
      'run ClusterTree: virtual nodes for leaf clusters, pod/status/dependency sync on Redis-backed workers',
    )
    .requiredOption('--kubeconfig <file>', 'kubeconfig of the host cluster')
    .option(
      '--redis-url <url>',
      'Redis of the work queue',
      process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    )
    .option(
      '--node-server-port <port>',
      'kubelet API port of the virtual nodes (0: any free port)',
      int(0, 65535),
      10250,
    )
    .option(
      '--node-address <ip>',
      'address the host apiserver dials for logs of virtual-node pods',
      '127.0.0.1',
    )
    .option(
      '--client-ca-file <file>',
      "CA (PEM) of the client certificates the virtual nodes' kubelet API accepts: the host apiserver's --kubelet-client-certificate issuer (without it, kubectl logs/exec on virtual nodes get 401)",
    )
    .option('--port <port>', '/healthz /readyz /metrics port (0: any free port)', int(0, 65535), 0)
    .option(
      '--concurrency <n>',
      'jobs worked at once by this process (they wait on apiservers, not CPU)',
      int(1, 1000),
      DEFAULT_CONCURRENCY,
    )
    .option('--worker-id <id>', 'name of this process in logs', `${hostname()}-${process.pid}`)
    .option(
      '--resync-seconds <s>',
      'how often every pod is re-enqueued as a safety net',
      int(10, 86_400),
      300,
    )
    .option('--queue-prefix <prefix>', 'BullMQ key prefix', 'bull')
    .action(
      async (o: {
        kubeconfig: string;
        redisUrl: string;
        nodeServerPort: number;
        nodeAddress: string;
        clientCaFile?: string;
        port: number;
        concurrency: number;
        workerId: string;
        resyncSeconds: number;
        queuePrefix: string;
      }) => {
        const handle = await runClusterTree({
          kubeconfig: o.kubeconfig,
          redisUrl: o.redisUrl,
          nodeServerPort: o.nodeServerPort,
          nodeAddress: o.nodeAddress,
          ...(o.clientCaFile ? { clientCaFile: o.clientCaFile } : {}),
          port: o.port,
          concurrency: o.concurrency,
          workerId: o.workerId,
          resyncIntervalMs: o.resyncSeconds * 1000,
          queuePrefix: o.queuePrefix,
        });
        await new Promise<void>((resolve) => {
          const stop = () => {
            // A second signal, or a stop that takes too long, ends the process anyway: queued
            // work is safe in Redis and active jobs are redone once their locks expire.
            process.once('SIGTERM', () => process.exit(1));
            process.once('SIGINT', () => process.exit(1));
            setTimeout(() => process.exit(1), 15_000).unref();
            stopAndReport('kosmos clustertree', () => handle.stop(), resolve);
          };
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
      },
    );
}
