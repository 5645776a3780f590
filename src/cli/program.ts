/** The kosmosctl command tree (also the `kosmos <component>` entry point of the image). */
import { basename } from 'node:path';
import { Command } from 'commander';
import { sandboxCommand } from './commands/sandbox.js';
import { KosmosError } from '../common/errors.js';

/**
 * Command modules of the components, each exporting a factory, with the commands it makes.
 * Loaded lazily: a component process (`kosmos extender`) imports only its own module, so it
 * neither starts slower nor holds more memory for the others' dependencies; `--help` and
 * anything unrecognised load them all. A unit test keeps the names here equal to what each
 * factory makes.
 */
export const COMMAND_MODULES: { path: string; factory: string; commands: string[] }[] = [
  { path: './commands/extender.js', factory: 'extenderCommand', commands: ['extender'] },
  { path: './commands/webhooks.js', factory: 'webhooksCommand', commands: ['webhooks'] },
  { path: './commands/clustertree.js', factory: 'clustertreeCommand', commands: ['clustertree'] },
  {
    path: './commands/clusterlink.js',
    factory: 'clusterlinkCommands',
    commands: ['agent', 'elector', 'network-manager', 'clusterlink-controller'],
  },
  { path: './commands/lab.js', factory: 'labCommand', commands: ['lab'] },
  { path: './commands/image.js', factory: 'imageCommand', commands: ['image'] },
  {
    path: './commands/mcs.js',
    factory: 'mcsCommands',
    commands: ['mcs-controller', 'mcs-dns', 'mcs-gen-crds'],
  },
  {
    path: './commands/install.js',
    factory: 'installCommands',
    commands: ['install', 'uninstall', 'join', 'unjoin', 'status', 'check'],
  },
];

export async function loadCommandModule(m: { path: string; factory: string }): Promise<Command[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(m.path)) as Record<string, unknown>;
  } catch (e) {
    if (
      (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' &&
      String((e as Error).message).includes(m.path.slice(2))
    )
      return [];
    throw e;
  }
  const factory = mod[m.factory];
  if (typeof factory !== 'function') throw new KosmosError(`${m.path} does not export ${m.factory}`);
  const made = (factory as () => Command | Command[])();
  return Array.isArray(made) ? made : [made];
}

/** The commands of the module that makes `only`, or of every module. */
async function componentCommands(only?: string): Promise<Command[]> {
  const mine = only ? COMMAND_MODULES.filter((m) => m.commands.includes(only)) : [];
  const out: Command[] = [];
  for (const m of mine.length > 0 ? mine : COMMAND_MODULES) out.push(...(await loadCommandModule(m)));
  return out;
}

/** `kubectl kosmos ...` runs this file as kubectl-kosmos; help should say so. */
function programName(): string {
  return basename(process.argv[1] ?? '') === 'kubectl-kosmos' ? 'kubectl kosmos' : 'kosmosctl';
}

/**
 * The program; with `command` (the first argument, e.g. from process.argv) only that
 * command's module is loaded besides the sandbox's.
 */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command(programName())
    .description('Kosmos: run many Kubernetes clusters as one')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') })
    .exitOverride();
  program.addCommand(sandboxCommand());
  for (const c of await componentCommands(command)) program.addCommand(c);
  return program;
}
