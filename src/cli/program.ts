/** The kosmosctl command tree (also the `kosmos <component>` entry point of the image). */
import { basename } from 'node:path';
import { Command } from 'commander';
import { sandboxCommand } from './commands/sandbox.js';

/**
 * Command modules of the components, each exporting a factory. Loaded lazily so that
 * `kosmosctl --help` does not pay for every component's imports, and tolerant of a module
 * that is not part of this build.
 */
const COMMAND_MODULES: [string, string][] = [
  ['./commands/extender.js', 'extenderCommand'],
  ['./commands/webhooks.js', 'webhooksCommand'],
  ['./commands/clustertree.js', 'clustertreeCommand'],
  ['./commands/clusterlink.js', 'clusterlinkCommands'],
  ['./commands/lab.js', 'labCommand'],
  ['./commands/mcs.js', 'mcsCommands'],
  ['./commands/install.js', 'installCommands'],
];

async function componentCommands(): Promise<Command[]> {
  const out: Command[] = [];
  for (const [path, name] of COMMAND_MODULES) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(path)) as Record<string, unknown>;
    } catch (e) {
      if (
        (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' &&
        String((e as Error).message).includes(path.slice(2))
      )
        continue;
      throw e;
    }
    const factory = mod[name];
    if (typeof factory !== 'function') throw new Error(`${path} does not export ${name}`);
    const made = (factory as () => Command | Command[])();
    out.push(...(Array.isArray(made) ? made : [made]));
  }
  return out;
}

/** `kubectl kosmos ...` runs this file as kubectl-kosmos; help should say so. */
function programName(): string {
  return basename(process.argv[1] ?? '') === 'kubectl-kosmos' ? 'kubectl kosmos' : 'kosmosctl';
}

export async function buildProgram(): Promise<Command> {
  const program = new Command(programName())
    .description('Kosmos: run many Kubernetes clusters as one')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') })
    .exitOverride();
  program.addCommand(sandboxCommand());
  for (const c of await componentCommands()) program.addCommand(c);
  return program;
}
