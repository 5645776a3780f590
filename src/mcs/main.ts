#!/usr/bin/env node
/**
 * Entry point of the MCS components on their own (`node dist/mcs/main.js mcs-controller ...`),
 * so they run and are tested before the kosmosctl program registers them.
 */
import { Command, CommanderError } from 'commander';
import { describeError } from '../common/errors.js';
import { mcsCommands } from '../cli/commands/mcs.js';

const program = new Command('kosmos-mcs').description('Kosmos Multi-Cluster Services').exitOverride();
for (const c of mcsCommands()) program.addCommand(c);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else {
    process.stderr.write(`error: ${describeError(err)}\n`);
    process.exitCode = 1;
  }
}
