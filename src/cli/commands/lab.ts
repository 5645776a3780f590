/** `kosmosctl lab up -f FILE | check | down`: ClusterLink on network namespaces of this machine (root). */
import { Command, Option } from 'commander';
import { UserError } from '../../common/errors.js';
import { readLabConfig } from '../../clusterlink/lab/config.js';
import { defaultStateDir, formatCheck, labCheck, labDown, labUp } from '../../clusterlink/lab/lab.js';

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new UserError('the lab creates network namespaces and needs root: run it with sudo');
}

export function labCommand(): Command {
  const stateDir = () =>
    new Option('--state-dir <dir>', 'where the lab records what it created').default(defaultStateDir());
  const lab = new Command('lab').description(
    'ClusterLink lab: clusters of network namespaces linked by real agents',
  );
  lab
    .command('up')
    .description('create the namespaces, start Redis, the network manager and one agent per node')
    .requiredOption('-f, --file <file>', 'lab file (clusters, nodes, CIDRs)')
    .addOption(stateDir())
    .action(async (flags: { file: string; stateDir: string }) => {
      requireRoot();
      const config = await readLabConfig(flags.file);
      // labUp removes what it made if it fails half-way; it never touches a lab already up.
      await labUp(config, { stateDir: flags.stateDir, log: (l) => process.stdout.write(`${l}\n`) });
    });
  lab
    .command('check')
    .description('try every pod against every other cluster’s pods and service (ICMP and TCP)')
    .addOption(stateDir())
    .action(async (flags: { stateDir: string }) => {
      requireRoot();
      const results = await labCheck({ stateDir: flags.stateDir });
      process.stdout.write(`${formatCheck(results)}\n`);
      if (results.some((r) => !(r.icmp && r.tcp))) process.exitCode = 1;
    });
  lab
    .command('down')
    .description('remove every namespace, link and process the lab made (also after a crash)')
    .addOption(stateDir())
    .action(async (flags: { stateDir: string }) => {
      requireRoot();
      await labDown({ stateDir: flags.stateDir, log: (l) => process.stdout.write(`${l}\n`) });
    });
  return lab;
}
