/**
 * Process entry for ClusterLink daemons started by the lab (and usable directly):
 *   main.js agent --name <cluster>-<node> --redis URL --prefix P [--elector <cluster>] [--resync-ms N]
 *   main.js elector --cluster C --name <cluster>-<node> --redis URL --prefix P
 *   main.js network-manager --redis URL --prefix P
 * kosmosctl exposes the same through `kosmosctl clusterlink ...`.
 */
import { parseArgs } from 'node:util';
import { describeError, UserError } from '../common/errors.js';
import { runAgent, runElector, runNetworkManager, untilSignal } from './run.js';

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      cluster: { type: 'string' },
      redis: { type: 'string' },
      prefix: { type: 'string' },
      elector: { type: 'string' },
      'resync-ms': { type: 'string' },
    },
  });
  const need = (k: keyof typeof values): string => {
    const v = values[k];
    if (typeof v !== 'string' || !v) throw new UserError(`${cmd}: --${k} is required`);
    return v;
  };
  if (cmd === 'apply-bench') {
    // Internal: run by the benchmark inside a network namespace; prints one JSON line.
    const { runApplyBench } = await import('./agent/apply-bench.js');
    process.stdout.write(`${JSON.stringify(await runApplyBench(Number(values.name ?? 1000)))}\n`);
    return;
  }
  const target = { redisUrl: need('redis'), prefix: need('prefix') };
  switch (cmd) {
    case 'agent':
      untilSignal(
        await runAgent({
          ...target,
          name: need('name'),
          ...(values['resync-ms'] ? { resyncMs: Number(values['resync-ms']) } : {}),
          ...(values.elector ? { elector: { cluster: values.elector } } : {}),
        }),
      );
      return;
    case 'elector':
      untilSignal(await runElector({ ...target, cluster: need('cluster'), name: need('name') }));
      return;
    case 'network-manager':
      untilSignal(
        await runNetworkManager({
          ...target,
          ...(values['resync-ms'] ? { resyncMs: Number(values['resync-ms']) } : {}),
        }),
      );
      return;
    default:
      throw new UserError(`unknown command ${cmd ?? '(none)'}: expected agent, elector or network-manager`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${describeError(err)}\n`);
  process.exit(1);
});
