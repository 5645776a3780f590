/** The kosmosctl command tree (also the `kosmos <component>` entry point of the image). */
import { Command } from 'commander';
import { sandboxCommand } from './commands/sandbox.js';

export function buildProgram(): Command {
  const program = new Command('kosmosctl')
    .description('Kosmos: run many Kubernetes clusters as one')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') })
    .exitOverride();
  program.addCommand(sandboxCommand());
  return program;
}
